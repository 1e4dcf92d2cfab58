// Wire types of the Apex contracts (shared spec: auth-api, rest-api, realtime-protocol,
// agent-report). Fields the app does not read are left out; unknown fields are ignored.

export interface PublicConfig {
  app_name?: string;
  version?: string;
  environment?: string;
  auth_url?: string;
  ws_url?: string;
  features?: Record<string, unknown> | string[];
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
}

/** A server-to-client frame (docs/spec/realtime-protocol.md section 2). */
export interface Envelope {
  type: string;
  seq?: number;
  run_id?: string;
  thread_id?: string;
  agent_name?: string;
  timestamp?: string;
  payload?: Record<string, unknown>;
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
  };
  recommendations?: Recommendation[];
  potential_savings?: { monthly_amount?: number; annual_amount?: number; percent?: number };
  action_plan?: { order: number; recommendation_id: string; week?: number }[];
  assumptions?: string[];
  estimate?: boolean;
}
