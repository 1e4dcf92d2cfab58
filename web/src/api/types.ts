// Wire types of the Apex contracts (shared spec: auth-api, rest-api, realtime-protocol,
// agent-report). Fields the app does not read are left out; unknown fields are ignored.

export interface PublicConfig {
  app_name?: string;
  version?: string;
  environment?: string;
  auth_url?: string;
  ws_url?: string;
  features?: Record<string, unknown> | string[];
  limits?: Record<string, unknown>;
}

export interface AuthConfig {
  providers: string[];
  registration_open: boolean;
  dev_login: boolean;
}

export interface User {
  id: string;
  email: string;
  name?: string | null;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type?: string;
  expires_in: number;
  refresh_expires_in?: number;
  user?: User;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  errors?: Record<string, string[] | string>;
}

export interface Thread {
  id: string;
  title?: string | null;
  created_at: string;
  updated_at: string;
  archived?: boolean;
  last_run_status?: RunStatus | null;
}

export interface Message {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  run_id?: string | null;
  created_at: string;
}

export type RunStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface Run {
  id: string;
  thread_id: string;
  status: RunStatus;
  started_at?: string | null;
  finished_at?: string | null;
  report?: Report | null;
}

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface Dataset {
  id: string;
  name: string;
  rows: number;
  columns?: string[];
  period_start?: string | null;
  period_end?: string | null;
  warnings?: string[];
  /** Stable id of the recognised export format, e.g. `apex`, `litellm_spend_logs`, `custom_mapping`. */
  source_format?: string;
  /** The recognised format in words, e.g. "LiteLLM spend logs". */
  source_format_name?: string;
  /** Calls the rows stand for (request counts of aggregated rows summed). */
  calls?: number;
  /** Rows are buckets of several calls: no per-call statistics. */
  aggregated?: boolean;
  cost_only?: boolean;
  /** `live`: fed by an ingest key over OTLP; `upload`: a file. */
  kind?: 'upload' | 'live' | (string & {});
}

/** An ingest key as listed (GET /api/ingest-keys): the secret itself is never listed. */
export interface IngestKey {
  id: string;
  name: string;
  /** First 12 characters of the key, to recognise it. */
  key_prefix: string;
  dataset_id: string;
  created_at: string;
  last_used_at?: string | null;
  revoked_at?: string | null;
}

/** The answer of POST /api/ingest-keys: the only time `key` is shown. */
export interface CreatedIngestKey extends IngestKey {
  key: string;
}

/** A live dataset's budget (PUT/GET /api/datasets/{id}/budget). */
export interface Budget {
  dataset_id: string;
  monthly_usd: number;
  features?: Record<string, number> | null;
  webhook_url?: string | null;
  spike_factor?: number | null;
  /** Only in the PUT answer that newly set a webhook URL. */
  webhook_secret?: string;
}

export interface BudgetInput {
  monthly_usd: number;
  features?: Record<string, number>;
  webhook_url?: string;
  spike_factor?: number;
}

export type UsageAlertKind = 'budget_projected' | 'feature_budget_projected' | 'daily_spike';

/** A budget or spike alert (GET /api/alerts, the `usage_alert` event, the webhook body). */
export interface UsageAlert {
  id: string;
  dataset_id: string;
  dataset_name: string;
  kind: UsageAlertKind | (string & {});
  feature: string | null;
  month: string;
  budget_usd: number | null;
  projected_usd: number | null;
  spent_usd: number;
  day: string | null;
  day_cost_usd: number | null;
  baseline_usd: number | null;
  message: string;
  created_at: string;
}

/** 422 problem of an upload no format recognises (code `unrecognized_format`). */
export interface UnrecognizedFormatProblem extends Problem {
  code: 'unrecognized_format';
  columns_found: string[];
  fields_needed: string[];
  fields_optional?: string[];
}

/** One day (or hour) of spend: `by_model` and `by_feature` split `cost_usd`. */
export interface DailyCost {
  date: string;
  calls?: number;
  cost_usd: number;
  by_model?: Record<string, number>;
  by_feature?: Record<string, number>;
}

export type FollowUpKind = 'what_if' | 'explain_recommendation' | 'cost_trend' | 'compare_models' | 'latency' | 'cost_breakdown';

/** The result of a follow-up that is not a full analysis (final `agent_completed` without a report). */
export interface FollowUpResult {
  intent: 'follow_up';
  kind: FollowUpKind | (string & {});
  dataset_id?: string | null;
  follow_ups?: string[];
  trend?: {
    granularity: 'day' | 'hour';
    scope: 'all' | 'feature' | 'model';
    name?: string | null;
    points: DailyCost[];
  };
}

/** A server-to-client frame as it arrives (docs/spec/realtime-protocol.md section 2): any type. */
export interface Envelope {
  type: string;
  seq?: number;
  run_id?: string;
  thread_id?: string;
  agent_name?: string;
  timestamp?: string;
  payload?: Record<string, unknown>;
}

type Frame<T extends string, P> = Omit<Envelope, 'type' | 'payload'> & {
  type: T;
  /** Wire data: every field may be missing, and values are checked where they are read. */
  payload?: Partial<P>;
};

export type AgentEnvelope =
  | Frame<'agent_started', { message: string; parent_agent: string }>
  | Frame<'agent_thinking', { reasoning: string; step: number; progress: number }>
  | Frame<'tool_executing', { tool_call_id: string; tool_name: string; parameters: unknown }>
  | Frame<'tool_completed', { tool_call_id: string; tool_name: string; result: unknown; duration_ms: number; ok: boolean; error: string }>
  | Frame<'agent_message_delta', { message_id: string; delta: string }>
  | Frame<'agent_completed', { status: string; duration_ms: number; final: boolean; parent_agent: string; result: unknown; report: Report }>
  | Frame<'agent_error', { code: string; message: string; final: boolean }>;

/** The frames the app acts on, discriminated by `type`; others are ignored (forward compatibility). */
export type ServerEnvelope =
  | Frame<'connection_established', { connection_id: string; user_id: string; epoch: string | number; last_seq: number; heartbeat_interval_s: number; max_message_bytes: number }>
  | Frame<'resumed', { recovered: boolean; from_seq: number; to_seq: number; replayed: number; reason: string }>
  | Frame<'error', { code: string; message: string; client_id: string }>
  | Frame<'ack', { received_type: string; client_id: string }>
  | Frame<'pong' | 'heartbeat', { timestamp: string; server_time: string }>
  | Frame<'thread_created' | 'thread_updated', { thread: Thread }>
  | Frame<'usage_alert', { alert: UsageAlert }>
  | AgentEnvelope;

export const AGENT_EVENT_TYPES: ReadonlySet<string> = new Set<AgentEnvelope['type']>([
  'agent_started',
  'agent_thinking',
  'tool_executing',
  'tool_completed',
  'agent_message_delta',
  'agent_completed',
  'agent_error',
]);

const SERVER_TYPES: ReadonlySet<string> = new Set<ServerEnvelope['type']>([
  'connection_established',
  'resumed',
  'error',
  'ack',
  'pong',
  'heartbeat',
  'thread_created',
  'thread_updated',
  'usage_alert',
  ...(AGENT_EVENT_TYPES as ReadonlySet<AgentEnvelope['type']>),
]);

export function isServerEnvelope(e: Envelope): e is ServerEnvelope {
  return SERVER_TYPES.has(e.type) && (e.payload === undefined || (typeof e.payload === 'object' && e.payload !== null));
}

export function isAgentEnvelope(e: Envelope): e is AgentEnvelope {
  return AGENT_EVENT_TYPES.has(e.type) && (e.payload === undefined || (typeof e.payload === 'object' && e.payload !== null));
}

export interface CostShare {
  model?: string;
  feature?: string;
  monthly_cost_usd: number;
  share?: number;
  p95_latency_ms?: number;
}

export interface Recommendation {
  id: string;
  category?: string;
  title: string;
  monthly_savings_usd: number;
  effort?: string;
  risk?: string;
  confidence?: string;
  rationale?: string;
  steps?: string[];
}

export interface Report {
  summary?: string;
  cost_analysis?: {
    period_days?: number;
    monthly_cost_usd?: number;
    calls?: number;
    by_model?: CostShare[];
    by_feature?: CostShare[];
    daily?: DailyCost[];
  };
  follow_ups?: string[];
  filters?: Record<string, unknown>;
  recommendations?: Recommendation[];
  potential_savings?: { monthly_amount?: number; annual_amount?: number; percent?: number };
  action_plan?: { order: number; recommendation_id: string; week?: number }[];
  assumptions?: string[];
  estimate?: boolean;
}
