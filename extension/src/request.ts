/**
 * Calls to the server extension's routes (`base_url/mlops-lab/api/...`), with
 * Jupyter's token and XSRF header added by `ServerConnection`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IRunSummary } from './logic';

export interface IStoreInfo {
  root: string;
  exists: boolean;
}

export interface IExperiment {
  experiment_id: number;
  name: string;
  created: number;
  n_runs: number;
}

export interface IRunsPage {
  store: IStoreInfo;
  total: number;
  offset: number;
  limit: number;
  runs: IRunSummary[];
}

export interface IRunDetail extends IRunSummary {
  source: Record<string, string>;
  datasets: Record<string, unknown>[];
  artifacts: Record<string, unknown>[];
  cells: {
    seq: number;
    execution_count: number | null;
    source: string;
    status: string;
    error_name: string | null;
    error_value: string | null;
    duration_s: number | null;
  }[];
  children: string[];
}

export interface IModel {
  name: string;
  latest_version: number;
  versions: number;
  aliases: string;
  created: number | null;
  updated: number | null;
}

export type IModelVersion = Record<string, unknown> & {
  version: number;
  aliases: string;
  run_id: string;
  run_name: string | null;
  created: number | null;
};

/** An answer other than 200, with the route's one-line message. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/** GET `endPoint` under `mlops-lab/api/` with `query`, and parse its JSON. */
export async function requestAPI<T>(
  endPoint: string,
  query: Record<string, string | number | undefined> = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const params = Object.entries(query)
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`)
    .join('&');
  const url =
    URLExt.join(settings.baseUrl, 'mlops-lab', 'api', endPoint) + (params ? `?${params}` : '');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, {}, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message =
      (body as { message?: string } | null)?.message ?? `${response.status} ${response.statusText}`;
    throw new RequestError(response.status, message);
  }
  return body as T;
}

export const api = {
  experiments: () => requestAPI<{ store: IStoreInfo; experiments: IExperiment[] }>('experiments'),
  runs: (query: {
    experiment?: string;
    filter?: string;
    order_by?: string;
    offset?: number;
    limit?: number;
  }) => requestAPI<IRunsPage>('runs', query),
  run: (ref: string) => requestAPI<IRunDetail>(`runs/${encodeURIComponent(ref)}`),
  models: () => requestAPI<{ available: boolean; models: IModel[] }>('models'),
  modelVersions: (name: string) =>
    requestAPI<{ name: string; versions: IModelVersion[] }>(
      `models/${encodeURIComponent(name)}`
    )
};
