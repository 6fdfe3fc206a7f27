import type { Client } from 'pg';

/** What one statement of a script returned. Values are in PostgreSQL's text format. */
export interface StatementResult {
  /** The command tag, e.g. `SELECT 1`, `CREATE TABLE`. */
  readonly command: string;
  readonly rows: ReadonlyArray<Record<string, string | null>>;
}

/** The fields of a PostgreSQL ErrorResponse the engine reads. */
export interface ServerError extends Error {
  readonly code?: string | undefined;
  /** 1-based character position in the script, as a string, when the server reports one. */
  readonly position?: string | undefined;
  readonly detail?: string | undefined;
  readonly hint?: string | undefined;
  readonly where?: string | undefined;
}

/** A script failed; `completed` are the results of the statements that finished before the one that failed. */
export class ScriptFailedError extends Error {
  readonly completedStatements: number;
  constructor(
    readonly serverError: ServerError,
    readonly completed: readonly StatementResult[],
  ) {
    super(serverError.message, { cause: serverError });
    this.name = 'ScriptFailedError';
    this.completedStatements = completed.length;
  }
}

/**
 * The only thing the engine needs from a database connection: send a script of one or more statements in
 * one round trip (PostgreSQL's simple query protocol) and learn each statement's result, or how far it got.
 * Bring your own connection by implementing it; {@link pgSession} adapts node-postgres.
 */
export interface SqlSession {
  /**
   * Rejects with {@link ScriptFailedError} when a statement fails. `onResult`, if the session supports it, is
   * called with each statement's result as it completes; the returned results (or the error's) are the truth.
   */
  script(sql: string, onResult?: (result: StatementResult) => void): Promise<StatementResult[]>;
}

interface Connection {
  query(text: string): void;
  sendCopyFail(message: string): void;
}
interface FieldMessage {
  fields: Array<{ name: string }>;
}
interface DataRowMessage {
  fields: Array<string | null>;
}

/**
 * A node-postgres "submittable" that runs a simple-protocol query and counts CommandComplete messages,
 * so a failure in a multi-statement script names the statement that failed even when PostgreSQL reports
 * no position for it (constraint violations, lock timeouts).
 */
class Script {
  private readonly results: StatementResult[] = [];
  private columns: string[] = [];
  private rows: Array<Record<string, string | null>> = [];
  private done = false;

  constructor(
    private readonly text: string,
    private readonly callback: (err: ScriptFailedError | undefined, results: StatementResult[]) => void,
    private readonly onResult: ((result: StatementResult) => void) | undefined,
  ) {}

  submit(connection: Connection): void {
    connection.query(this.text);
  }
  handleRowDescription(msg: FieldMessage): void {
    this.columns = msg.fields.map((f) => f.name);
    this.rows = [];
  }
  handleDataRow(msg: DataRowMessage): void {
    const row: Record<string, string | null> = {};
    msg.fields.forEach((value, i) => {
      row[this.columns[i] ?? `?column${i}?`] = value;
    });
    this.rows.push(row);
  }
  handleCommandComplete(msg: { text: string }): void {
    const result = { command: msg.text, rows: this.rows };
    this.results.push(result);
    this.columns = [];
    this.rows = [];
    this.onResult?.(result);
  }
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: Connection): void {
    connection.sendCopyFail('lockstep migrations cannot read COPY ... FROM STDIN data');
  }
  handleCopyData(): void {}
  handleError(err: ServerError): void {
    this.finish(new ScriptFailedError(err, this.results));
  }
  handleReadyForQuery(): void {
    this.finish(undefined);
  }
  private finish(err: ScriptFailedError | undefined): void {
    if (this.done) return;
    this.done = true;
    this.callback(err, this.results);
  }
}

/** Adapts a connected node-postgres client. The client stays the caller's: the engine never ends it. */
export function pgSession(client: Client): SqlSession {
  return {
    script: (sql, onResult) =>
      new Promise((resolve, reject) => {
        const submittable = new Script(
          sql,
          (err, results) => (err ? reject(err) : resolve(results)),
          onResult,
        );
        // node-postgres accepts any object with submit(); its typings only know its own Submittable shape.
        client.query(submittable as unknown as Parameters<Client['query']>[0]);
      }),
  };
}
