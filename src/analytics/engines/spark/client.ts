import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Table, tableFromIPC } from 'apache-arrow';
import { projectPath } from '../../../paths.ts';
import type { SparkRemote } from './remote.ts';

/** The .proto subset of the Spark Connect protocol (found from the project root, from src/ and dist/ alike). */
export const PROTO_FILE = projectPath('src', 'analytics', 'engines', 'spark', 'spark-connect.proto');
const SERVICE = 'spark.connect.SparkConnectService';
const CLIENT_TYPE = 'gpumon';

let definition: protoLoader.PackageDefinition | undefined;

/** The loaded protocol: messages keep their .proto field names, int64 as strings, oneofs named. */
export function sparkConnectDefinition(): protoLoader.PackageDefinition {
  definition ??= protoLoader.loadSync(PROTO_FILE, {
    keepCase: true,
    longs: String,
    enums: Number,
    defaults: false,
    oneofs: true,
  });
  return definition;
}

/** The (de)serializers of one RPC, e.g. `rpcCodec('ExecutePlan')`, for tests and for the client. */
export function rpcCodec(method: string): protoLoader.MethodDefinition<object, object> {
  const service = sparkConnectDefinition()[SERVICE] as protoLoader.ServiceDefinition;
  const rpc = service[method];
  if (!rpc) throw new Error(`no RPC ${method} in ${PROTO_FILE}`);
  return rpc as protoLoader.MethodDefinition<object, object>;
}

/** A relation (relations.proto `Relation`), the shapes gpumon sends. */
export type Relation =
  | { sql: { query: string } }
  | { cached_remote_relation: { relation_id: string } }
  | {
      read: {
        data_source: { format: string; options: Record<string, string>; paths: string[] };
        is_streaming?: boolean;
      };
    };

/** A command (commands.proto `Command`), the shapes gpumon sends. */
export type Command =
  | { sql_command: { input: Relation } }
  | { create_dataframe_view: { input: Relation; name: string; is_global: boolean; replace: boolean } }
  | {
      checkpoint_command: {
        relation: Relation;
        local: boolean;
        eager: boolean;
        storage_level?: {
          use_disk: boolean;
          use_memory: boolean;
          use_off_heap: boolean;
          deserialized: boolean;
          replication: number;
        };
      };
    };

export type Plan = { root: Relation } | { command: Command };

/** What an ExecutePlan stream carried. */
export interface ExecuteResult {
  /** The Arrow batches, as one table (no rows and no columns when the plan returned none). */
  readonly table: Table | undefined;
  readonly rowCount: number;
  /** The relation a CheckpointCommand kept on the server (CachedRemoteRelation.relation_id). */
  readonly checkpointId?: string | undefined;
  /** Bytes of Arrow IPC received. */
  readonly arrowBytes: number;
  /** Milliseconds spent decoding them into `table`, after the stream ended. */
  readonly decodeMs: number;
}

/** Progress of a running plan (ExecutePlanResponse.ExecutionProgress), summed over its stages. */
export interface ExecuteProgress {
  readonly stages: number;
  readonly stagesDone: number;
  readonly tasks: number;
  readonly tasksDone: number;
  readonly inputBytesRead: number;
  readonly inflightTasks: number;
}

export interface ExecuteOptions {
  /** Aborting interrupts the operation on the server and cancels the call. */
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((progress: ExecuteProgress) => void) | undefined;
}

interface ExecutePlanResponse {
  response_type?: string;
  arrow_batch?: { row_count?: string; data?: Buffer };
  checkpoint_command_result?: { relation?: { relation_id?: string } };
  execution_progress?: {
    stages?: {
      num_tasks?: string;
      num_completed_tasks?: string;
      input_bytes_read?: string;
      done?: boolean;
    }[];
    num_inflight_tasks?: string;
  };
}

/** A gRPC failure of a call: its status code and the server's message (Spark's error class and text). */
export class SparkCallError extends Error {
  constructor(
    readonly rpc: string,
    readonly grpcCode: grpc.status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SparkCallError';
  }

  /** Spark's id of the error, for FetchErrorDetails (the full chain of causes), when it sent one. */
  errorId: string | undefined;

  /** The server could not be reached (refused, unresolvable, timed out connecting). */
  get unreachable(): boolean {
    return this.grpcCode === grpc.status.UNAVAILABLE || this.grpcCode === grpc.status.DEADLINE_EXCEEDED;
  }
}

type GrpcClient = grpc.Client & { [rpc: string]: (...args: unknown[]) => unknown };

/**
 * One Spark Connect session over gRPC: the session id is ours (a UUID), the server creates the session on
 * the first call. Calls of one session must not overlap (the engine's contract). `close` releases the
 * session on the server and closes the channel.
 */
export class SparkConnectSession {
  readonly sessionId = randomUUID();
  private readonly client: GrpcClient;
  private readonly metadata = new grpc.Metadata();
  private readonly userContext: { user_id: string; user_name: string };

  constructor(readonly remote: SparkRemote) {
    const Service = grpc.loadPackageDefinition(sparkConnectDefinition()).spark as unknown as {
      connect: { SparkConnectService: grpc.ServiceClientConstructor };
    };
    const credentials = remote.useSsl ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
    const host = remote.host.includes(':') ? `[${remote.host}]` : remote.host;
    this.client = new Service.connect.SparkConnectService(`${host}:${remote.port}`, credentials, {
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      'grpc.primary_user_agent': CLIENT_TYPE,
    }) as unknown as GrpcClient;
    if (remote.token !== undefined) this.metadata.set('authorization', `Bearer ${remote.token}`);
    this.userContext = { user_id: remote.userId, user_name: remote.userId };
  }

  /** Sets session configuration (ConfigRequest.Set); `deadlineMs` bounds the call (the first one connects). */
  async setConfig(pairs: Record<string, string>, deadlineMs = 60_000): Promise<void> {
    await this.unary(
      'Config',
      {
        ...this.base(),
        operation: { set: { pairs: Object.entries(pairs).map(([key, value]) => ({ key, value })) } },
      },
      deadlineMs,
    );
  }

  /** Runs a plan to its end and collects its Arrow batches. */
  execute(plan: Plan, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    const operationId = randomUUID();
    const { signal } = options;
    return new Promise<ExecuteResult>((resolve, reject) => {
      const batches: Buffer[] = [];
      let rowCount = 0;
      let arrowBytes = 0;
      let checkpointId: string | undefined;
      let settled = false;
      const call = this.rpc('ExecutePlan')(
        { ...this.base(), plan, operation_id: operationId, tags: [] },
        this.metadata,
      ) as grpc.ClientReadableStream<ExecutePlanResponse>;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err !== undefined) {
          reject(err);
          return;
        }
        try {
          const decodeStarted = performance.now();
          const table = concatBatches(batches);
          const decodeMs = performance.now() - decodeStarted;
          resolve({ table, rowCount, checkpointId, arrowBytes, decodeMs });
        } catch (e) {
          reject(e);
        }
      };
      const onAbort = () => {
        // Ask the server to stop the operation (the query's jobs are cancelled), then drop the stream.
        void this.interrupt(operationId).finally(() => call.cancel());
        finish(signal?.reason ?? new Error('aborted'));
      };
      if (signal?.aborted) {
        call.cancel();
        finish(signal.reason ?? new Error('aborted'));
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      call.on('data', (response: ExecutePlanResponse) => {
        if (response.arrow_batch?.data && response.arrow_batch.data.length > 0) {
          batches.push(response.arrow_batch.data);
          arrowBytes += response.arrow_batch.data.length;
          rowCount += Number(response.arrow_batch.row_count ?? 0);
        } else if (response.checkpoint_command_result) {
          checkpointId = response.checkpoint_command_result.relation?.relation_id;
        } else if (response.execution_progress && options.onProgress) {
          options.onProgress(summarizeProgress(response.execution_progress));
        }
      });
      call.on('error', (err: grpc.ServiceError) => finish(callError('ExecutePlan', err)));
      call.on('end', () => finish());
    });
  }

  /**
   * The messages of an error and of its causes, from FetchErrorDetails (the message of a failed call is
   * truncated, and the file at fault is often named only in a cause); [] when the server has none.
   */
  async errorMessages(errorId: string): Promise<string[]> {
    try {
      const response = (await this.unary(
        'FetchErrorDetails',
        { ...this.base(), error_id: errorId },
        10_000,
      )) as { errors?: { message?: string }[] };
      return (response.errors ?? []).map((e) => e.message ?? '').filter((m) => m !== '');
    } catch {
      return [];
    }
  }

  /** Interrupts one operation of the session (InterruptRequest, INTERRUPT_TYPE_OPERATION_ID). */
  async interrupt(operationId: string): Promise<void> {
    await this.unary(
      'Interrupt',
      { ...this.base(), interrupt_type: 3, operation_id: operationId },
      10_000,
    ).catch(() => {});
  }

  /** Releases the session on the server (its cached tables and views go) and closes the channel. */
  async close(): Promise<void> {
    try {
      await this.unary('ReleaseSession', { ...this.base() }, 10_000);
    } finally {
      this.client.close();
    }
  }

  private base() {
    return { session_id: this.sessionId, user_context: this.userContext, client_type: CLIENT_TYPE };
  }

  private rpc(name: string): (...args: unknown[]) => unknown {
    const method = this.client[name];
    if (!method) throw new Error(`no RPC ${name} in ${PROTO_FILE}`);
    return method.bind(this.client);
  }

  private unary(rpc: string, request: object, deadlineMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.rpc(rpc)(
        request,
        this.metadata,
        { deadline: Date.now() + deadlineMs },
        (err: grpc.ServiceError | null, response: unknown) =>
          err ? reject(callError(rpc, err)) : resolve(response),
      );
    });
  }
}

/** Each ArrowBatch is a whole Arrow IPC stream (schema and one record batch): one table of them all. */
export function concatBatches(streams: readonly Uint8Array[]): Table | undefined {
  const tables = streams.map((s) => tableFromIPC(s));
  const [first] = tables;
  if (!first) return undefined;
  return new Table(
    first.schema,
    tables.flatMap((t) => t.batches),
  );
}

function callError(rpc: string, err: grpc.ServiceError): SparkCallError {
  const error = new SparkCallError(rpc, err.code, err.details || err.message, { cause: err });
  const details = err.metadata?.get('grpc-status-details-bin')[0];
  if (Buffer.isBuffer(details)) error.errorId = errorIdOf(details);
  return error;
}

/**
 * The `errorId` Spark puts in the google.rpc.ErrorInfo of a failed call's status details (for
 * FetchErrorDetails): google.rpc.Status.details (3) -> Any.value (2) -> ErrorInfo.metadata (3), a map entry
 * whose key (1) is "errorId" and value (2) the id. Undefined when absent.
 */
export function errorIdOf(statusDetails: Uint8Array): string | undefined {
  for (const any of fieldsOf(statusDetails, 3)) {
    for (const info of fieldsOf(any, 2)) {
      for (const entry of fieldsOf(info, 3)) {
        const [key] = fieldsOf(entry, 1);
        const [value] = fieldsOf(entry, 2);
        if (key && value && Buffer.from(key).toString('utf8') === 'errorId') {
          return Buffer.from(value).toString('utf8');
        }
      }
    }
  }
  return undefined;
}

/** The length-delimited fields numbered `field` of a protobuf message (others skipped); [] if malformed. */
function fieldsOf(message: Uint8Array, field: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 50; shift += 7) {
      const byte = message[at++];
      if (byte === undefined) throw new RangeError('truncated');
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw new RangeError('varint too long');
  };
  try {
    while (at < message.length) {
      const tag = varint();
      const wire = tag & 7;
      if (wire === 0) varint();
      else if (wire === 1) at += 8;
      else if (wire === 5) at += 4;
      else if (wire === 2) {
        const length = varint();
        if (tag >>> 3 === field) out.push(message.subarray(at, at + length));
        at += length;
      } else return out;
    }
  } catch {
    return out;
  }
  return out;
}

export function summarizeProgress(
  progress: NonNullable<ExecutePlanResponse['execution_progress']>,
): ExecuteProgress {
  const stages = progress.stages ?? [];
  const sum = (pick: (s: (typeof stages)[number]) => string | undefined) =>
    stages.reduce((n, s) => n + Number(pick(s) ?? 0), 0);
  return {
    stages: stages.length,
    stagesDone: stages.filter((s) => s.done).length,
    tasks: sum((s) => s.num_tasks),
    tasksDone: sum((s) => s.num_completed_tasks),
    inputBytesRead: sum((s) => s.input_bytes_read),
    inflightTasks: Number(progress.num_inflight_tasks ?? 0),
  };
}
