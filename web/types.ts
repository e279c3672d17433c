// The shapes of the API's answers that the pages read (see /docs for the full description).

export interface Run {
  id: string;
  pipeline: string;
  status: string;
  asOf: string;
  dryRun: boolean;
  startedAt: string;
  endedAt: string | null;
  heartbeatAt: string;
  durationMs: number | null;
  attempts: number;
  host: string | null;
  pid: number | null;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  filesLoaded: number;
  filesRejected: number;
  filesSkipped: number;
  unitsLoaded: number;
  timings: Record<string, number>;
  errorCode: string | null;
  error: string | null;
  requestId: string | null;
}

export type RunPoint = Pick<
  Run,
  'id' | 'status' | 'startedAt' | 'durationMs' | 'rowsLoaded' | 'rowsRejected'
>;

export interface Pipeline {
  name: string;
  groups: string[];
  file: string | null;
  configured: boolean;
  status: string;
  lastRun: Run | null;
  nextRun: string | null;
  schedules: string[];
  recent: RunPoint[];
}

export interface Schedule {
  name: string;
  cron: string;
  timezone: string;
  kind: string;
  target: string | null;
  enabled: boolean;
  catchUp: string;
  lastFireAt: string | null;
  nextRun: string | null;
}

export interface MailAccount {
  account: string;
  activeRules: number;
  messagesHandled: number;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
}

export interface Status {
  status: 'healthy' | 'degraded' | 'unhealthy';
  reasons: string[];
  counts: Record<string, number>;
}

export interface Accepted {
  requestId: string;
  jobId: string;
  kind: string;
  target: string | null;
  queue: string;
}

export interface RunFile {
  id: string;
  name: string;
  source: string;
  size: number;
  status: string;
  reason: string | null;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  duplicateOf: string | null;
  recordedAt: string;
  archivedTo: string | null;
}

export interface RunDetail extends Run {
  steps: { step: string; ms: number }[];
  files: RunFile[];
}

export interface LogEntry {
  id: string;
  loggedAt: string;
  level: string;
  step: number | null;
  stepMs: number | null;
  totalMs: number | null;
  message: string;
}

export interface Reject {
  id: string;
  file: string;
  line: number | null;
  column: string | null;
  rule: string;
  value: string | null;
  message: string;
}

export interface Progress {
  status: string;
  live: boolean;
  file: string | null;
  filesSeen: number | null;
  filesTotal: number | null;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  elapsedSeconds: number;
  rowsPerSecond: number;
}

export interface CleanupResult {
  reaped: { id: string; pipeline: string }[];
  alive: { id: string; pipeline: string }[];
  retried: { pipeline: string; requestId: string }[];
  notRetried: { pipeline: string; reason: string }[];
}
