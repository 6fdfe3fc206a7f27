/**
 * The release record (issue 16): one DynamoDB item per execution, written by the state machine itself (the
 * DynamoDB PutItem integration, no function) when a release starts and again, replacing it, at every end —
 * released, dry run, failed. It outlives the execution history (which Step Functions keeps 90 days) and the stack
 * (RemovalPolicy.RETAIN). The rollback reads it: the image, the task-definition revisions before and after, the
 * migrations with their checksums, the snapshot, the outcome. The CLI reads it with `lockstep releases`
 * (cli/releases.ts), the rehearsal writes it to `.lockstep/releases/` (rehearsal/stand-ins/records.ts).
 *
 * Keys: partition `database` (the RDS identifier), sort `recordKey` = `<execution start time>#<execution name>`:
 * "this database's releases, newest first" is one Query with ScanIndexForward false. Two global secondary indexes:
 * `byRelease` (partition `release`) for `releases show <label>`, `newest` (partition `kind`, always "release") for
 * every database at once. DynamoDB Developer Guide, "DynamoDB read consistency": "All reads from GSIs and streams
 * are eventually consistent", so a record written a moment ago may be missing from them for a moment; the table's
 * own Query is read consistently.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { RECORD, type RecordOutcome } from '../release-record-keys.ts';

export { RECORD, type RecordOutcome };

export function createReleaseRecordsTable(scope: Construct, id: string): dynamodb.Table {
  const table = new dynamodb.Table(scope, id, {
    partitionKey: { name: RECORD.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: RECORD.sortKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    // The AWS managed key (aws/dynamodb): key use shows in CloudTrail; readers need no kms grant of their own.
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    // Records are what a rollback decides from, possibly after the stack is gone: never deleted with it.
    removalPolicy: RemovalPolicy.RETAIN,
  });
  for (const [indexName, partition] of [
    [RECORD.byRelease, 'release'],
    [RECORD.newest, 'kind'],
  ] as const) {
    table.addGlobalSecondaryIndex({
      indexName,
      partitionKey: { name: partition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: RECORD.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
  return table;
}

/** DynamoDB's transient errors, as the Step Functions integration names them: retried a little (lock and record states). */
export const DYNAMODB_RETRY: sfn.RetryProps = {
  errors: [
    'DynamoDB.ProvisionedThroughputExceededException',
    'DynamoDB.ThrottlingException',
    'DynamoDB.InternalServerErrorException',
  ],
  interval: Duration.seconds(2),
  maxAttempts: 3,
  backoffRate: 2,
};

/** Where a record's fields come from on one path of the state machine. */
export interface RecordSource {
  readonly outcome: RecordOutcome;
  /** JSONPath of the release label, the image and the snapshot id (strings on that path). */
  readonly release: string;
  readonly image: string;
  readonly snapshotId: string;
  /** The failure path: also the failed step, its error and Cause (`$.failure`). */
  readonly failure?: boolean;
}

/** The success paths' fields: preflight's validated release, `$.snapshot` ("none" until one is taken). */
export const RELEASED_SOURCE = {
  release: '$.release.release',
  image: '$.release.image',
  snapshotId: '$.snapshot.snapshotId',
} as const;
/** The failure path's: `$.failure`, which names them even before preflight validated anything. */
export const FAILED_SOURCE = {
  release: '$.failure.release',
  image: '$.failure.image',
  snapshotId: '$.failure.snapshot',
  failure: true,
} as const;

/**
 * What the record keeps of the state when a step never ran: each absent key gets this value. JSONPath to a
 * missing field fails the state with States.Runtime, which no Catch sees (Step Functions Developer Guide, "Handling
 * errors": "States.ALL … cannot catch the States.DataLimitExceeded terminal error or Runtime error types"), so the
 * record reads only from a view in which every key exists. (An input that preflight refused may carry keys of any
 * shape; the record takes only whole values from the view, written as JSON text, so none can break it.)
 */
const ABSENT = {
  plan: null,
  deploy: null,
  revision: null,
} as const;

/** The sort key: the execution's start time (ISO 8601, so it sorts by time) and its name (unique per state machine). */
export const RECORD_KEY_FORMAT = "States.Format('{}#{}', $$.Execution.StartTime, $$.Execution.Name)";

export interface RecordStateProps {
  readonly table: dynamodb.ITable;
  /** The database identifier: the record's partition. */
  readonly database: string;
  readonly source: RecordSource;
  /** Where a failed write goes (its error in `$.recordError`); the successful one goes to `next`. */
  readonly onError: sfn.IChainable;
  /**
   * With an approval gate: the decision (`$.approval`, SendTaskSuccess's output: who approved, when) is recorded as
   * `approval`, JSON text, `null` before the gate. A rejection is the failure's error and Cause. @default false
   */
  readonly approval?: boolean;
  /**
   * The rollback state machine's records (./rollback-definition.ts): marked `flow: rollback`, with what was restored
   * and renamed (`$.restore`, JSON; null for an image-only rollback or before the restore). @default - a release's
   */
  readonly flow?: 'rollback';
}

/**
 * `Record view (<label>)` → `Record release (<label>)` → `next`. The view is the state with {@link ABSENT}'s keys
 * filled in; the PutItem writes strings only (structured parts as JSON text), so a
 * `null` anywhere cannot make DynamoDB refuse the item. Item size: DynamoDB's limit is 400 KB for the whole item
 * (Developer Guide, "Constraints": names and values together); the largest parts are the release input (Step
 * Functions caps it at 256 KiB), the plan's migration list (functions/migrate/record-migrations.ts cuts it to 32
 * KiB) and a failure's Cause (at most 32,768 characters), so a record always fits.
 */
export function recordRelease(
  scope: Construct,
  label: string,
  props: RecordStateProps,
  next: sfn.IChainable,
): sfn.IChainable {
  // Structured parts (plan, deployment, revision, input) are JSON text; what is already text stays as it is.
  // The state itself becomes the view (OutputPath), so nothing is carried twice: the payload stays as it was, with
  // the absent keys now null. No later state tells a null from an absent key (none uses isPresent).
  const view = new sfn.Pass(scope, `Record view (${label})`, {
    stateName: `Record view (${label})`,
    parameters: {
      'view.$': `States.JsonMerge(States.StringToJson('${JSON.stringify({ ...ABSENT, ...(props.approval ? { approval: null } : {}), ...(props.flow === 'rollback' ? { restore: null } : {}) })}'), $, false)`,
    },
    outputPath: '$.view',
  });
  const s = (path: string) => tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt(path));
  const json = (path: string) =>
    tasks.DynamoAttributeValue.fromString(sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt(path)));
  const { source } = props;
  const write = new tasks.DynamoPutItem(scope, `Record release (${label})`, {
    stateName: `Record release (${label})`,
    table: props.table,
    item: {
      [RECORD.partitionKey]: tasks.DynamoAttributeValue.fromString(props.database),
      [RECORD.sortKey]: tasks.DynamoAttributeValue.fromString(
        sfn.JsonPath.format(
          '{}#{}',
          sfn.JsonPath.stringAt('$$.Execution.StartTime'),
          sfn.JsonPath.stringAt('$$.Execution.Name'),
        ),
      ),
      kind: tasks.DynamoAttributeValue.fromString(RECORD.kind),
      release: s(source.release),
      image: s(source.image),
      outcome: tasks.DynamoAttributeValue.fromString(source.outcome),
      executionArn: s('$$.Execution.Id'),
      startedAt: s('$$.Execution.StartTime'),
      updatedAt: s('$$.State.EnteredTime'),
      snapshotId: s(source.snapshotId),
      plan: json('$.plan'),
      deployment: json('$.deploy'),
      revision: json('$.revision'),
      ...(props.approval ? { approval: json('$.approval') } : {}),
      ...(props.flow === 'rollback'
        ? { flow: tasks.DynamoAttributeValue.fromString('rollback'), restore: json('$.restore') }
        : {}),
      // Read as plain paths, not through States.JsonToString: a Cause is often JSON text itself (Lambda's error).
      ...(source.failure
        ? {
            failedStep: s('$.failure.step'),
            error: s('$.failure.error.Error'),
            cause: s('$.failure.error.Cause'),
          }
        : {}),
      input: tasks.DynamoAttributeValue.fromString(
        sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$$.Execution.Input')),
      ),
    },
    resultPath: sfn.JsonPath.DISCARD,
  });
  write.addRetry(DYNAMODB_RETRY);
  write.addCatch(props.onError, { resultPath: '$.recordError' });
  return view.next(write).next(next);
}

/**
 * The alert when a record could not be written: the release's own outcome is unaffected (a live release stays live,
 * a failed one still ends FAILED, its own alert already sent), but the record is missing, and `lockstep releases`
 * and the rollback would not know of it. Builds `$.alert` for an SNS Publish.
 */
export function recordFailureAlert(
  scope: Construct,
  label: string,
  table: dynamodb.ITable,
  database: string,
  source: RecordSource,
): sfn.Pass {
  return new sfn.Pass(scope, `Alert: record (${label})`, {
    stateName: `Alert: record (${label})`,
    parameters: {
      subject: 'lockstep: release record not written',
      'message.$': `States.Format('Release {} ended ${source.outcome}, but its release record could not be written to the DynamoDB table {} (database {}, key {}#{}): {}. The release itself is as it was: this changes nothing on the database or the service, but lockstep releases will not list it and a rollback cannot start from it. Execution: {}', ${source.release}, '${table.tableName}', '${database}', $$.Execution.StartTime, $$.Execution.Name, States.JsonToString($.recordError), $$.Execution.Id)`,
    },
    resultPath: '$.alert',
  });
}
