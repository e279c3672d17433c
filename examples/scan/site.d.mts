export function startSite(port?: number): Promise<{ origin: string; close(): Promise<void> }>;
