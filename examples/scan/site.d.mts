export function startSite(
  port?: number,
): Promise<{ origin: string; requests: string[]; close(): Promise<void> }>;
