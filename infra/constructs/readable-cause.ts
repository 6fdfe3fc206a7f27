/**
 * The failure path's Cause, made readable for the alert, the record and the execution's own Cause. A Lambda step's
 * Cause is the error document the function's runtime reports, JSON text: `{"errorType":…,"errorMessage":…,"trace":
 * […]}`. The key order is the runtime's: aws-lambda-nodejs-runtime-interface-client, src/Errors.js, builds it as
 * `toRapidResponse(error)` → `{ errorType: error.name, errorMessage: error.message, trace: error.stack.split('\n') }`
 * and posts it with JSON.stringify, which keeps that order. An error that is not an Error object gets `trace: []`,
 * which does not match below and stays as it was. In an alert that is one line of escaped newlines and a stack trace.
 * This takes the message out of it:
 *
 *   Readable cause? ─┬─ Cause is a Lambda error document → Read Lambda error (parse) → Cause from Lambda error → next
 *                    └─ anything else (States.Timeout, a rejection, ECS, DynamoDB, our own Causes) ────────────→ next
 *
 * Parsing must never fail here: a Pass state cannot Catch, and States.StringToJson on text that is not JSON is a
 * States.Runtime error, which fails the execution with no alert at all (Step Functions Developer Guide, "Handling
 * errors": "States.ALL … cannot catch the States.DataLimitExceeded terminal error or Runtime error types"). So only a
 * Cause of exactly that document's shape is parsed: it begins `{"errorType":"` and ends `"]}` — the end of its trace,
 * which a Cause cut at Step Functions' 32,768 characters would have lost — and holds `","errorMessage":"` and
 * `","trace":["`. No text a person supplies can begin a Cause (a rejection's begins "rejected by"). The stack trace
 * stays in the execution history's failed-task event.
 */
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/** A Lambda error document with a trace: `*` is StringMatches' only wildcard; nothing else here is special. */
export const LAMBDA_ERROR_DOCUMENT = '{"errorType":"*","errorMessage":"*","trace":["*"]}';

export interface ReadableCauseNames {
  readonly choice: string;
  readonly parse: string;
  readonly replace: string;
}

export const READABLE_CAUSE: ReadableCauseNames = {
  choice: 'Readable cause?',
  parse: 'Read Lambda error',
  replace: 'Cause from Lambda error',
};

/** `Readable cause?` → (parse → replace) → `next`, on `$.failure.error` (`{ Error, Cause }`). */
export function readableCause(scope: Construct, next: sfn.IChainable): sfn.IChainable {
  const names = READABLE_CAUSE;
  const replace = new sfn.Pass(scope, names.replace, {
    stateName: names.replace,
    parameters: {
      'Error.$': '$.failure.error.Error',
      'Cause.$': '$.lambdaError.document.errorMessage',
    },
    resultPath: '$.failure.error',
  }).next(next);
  const parse = new sfn.Pass(scope, names.parse, {
    stateName: names.parse,
    parameters: { 'document.$': 'States.StringToJson($.failure.error.Cause)' },
    resultPath: '$.lambdaError',
  }).next(replace);
  return new sfn.Choice(scope, names.choice, { stateName: names.choice })
    .when(
      sfn.Condition.and(
        sfn.Condition.isString('$.failure.error.Cause'),
        sfn.Condition.stringMatches('$.failure.error.Cause', LAMBDA_ERROR_DOCUMENT),
      ),
      parse,
    )
    .otherwise(next);
}
