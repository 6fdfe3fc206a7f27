/**
 * The rollback part of the construct (infra/constructs/rollback-flow.ts): its settings checked at synth, the restore
 * function's environment and grants for an instance and for an Aurora cluster (iam-simulation.test.ts simulates the
 * instance's), the customer managed key grant, and the second state machine and its alarm.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Duration, type Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import type { IConstruct } from 'constructs';
import { ReleaseDatabase } from '../../infra/constructs/release-flow.ts';
import { buildFlowStack } from '../support/flow-stack.ts';

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/** The statements of a role's policies, references flattened to `<LogicalId>` / `<LogicalId.Attr>`. */
function statementsOf(template: Template, stack: Stack, role: IConstruct | undefined): Statement[] {
  assert.ok(role);
  const roleId = stack.getLogicalId(role.node.defaultChild as never);
  const flat = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map(flat);
    const o = value as Record<string, unknown>;
    if ('Ref' in o) return `<${String(o.Ref)}>`;
    if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return (flat(parts) as unknown[]).join(sep);
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, flat(v)]));
  };
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => flat(p.Properties.PolicyDocument.Statement) as Statement[]);
}

const actions = (statements: Statement[]) =>
  statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])).sort();
const resourcesOf = (statements: Statement[], action: string) =>
  statements
    .filter((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).includes(action))
    .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]))
    .map(String)
    .sort();
const ARN = (rest: string) => `arn:<AWS::Partition>:rds:<AWS::Region>:<AWS::AccountId>:${rest}`;

describe('rollback in the construct', () => {
  test('an instance: the restore function gets its database and timeouts, and may restore, tag, rename and read, no more', () => {
    const { template, flow, stack } = buildFlowStack();
    const fn =
      template.findResources('AWS::Lambda::Function')[
        stack.getLogicalId(flow.functions.restore.node.defaultChild as never)
      ];
    const env = fn?.Properties.Environment.Variables;
    assert.equal(env.DB_KIND, 'instance');
    assert.equal(env.RESTORE_TIMEOUT_SECONDS, String(3 * 3600));
    assert.equal(env.RENAME_TIMEOUT_SECONDS, '1800');
    assert.equal(fn?.Properties.VpcConfig, undefined);

    const statements = statementsOf(template, stack, flow.functions.restore.role);
    assert.deepEqual(
      actions(statements).filter((a) => a.startsWith('rds:') || a.startsWith('kms:')),
      [
        'rds:AddTagsToResource',
        'rds:DescribeDBInstances',
        'rds:DescribeDBSnapshots',
        'rds:ModifyDBInstance',
        'rds:RestoreDBInstanceFromDBSnapshot',
      ],
    );
    const db = stack.getLogicalId(flow.node.scope?.node.findChild('Database').node.defaultChild as never);
    assert.deepEqual(resourcesOf(statements, 'rds:ModifyDBInstance'), [
      ARN(`db:<${db}>`),
      ARN(`db:<${db}>-*`),
    ]);
    assert.deepEqual(resourcesOf(statements, 'rds:RestoreDBInstanceFromDBSnapshot'), [
      ARN(`db:<${db}>-*`),
      ARN('og:*'),
      ARN('pg:*'),
      ARN('snapshot:lockstep-*'),
      ARN('subgrp:*'),
    ]);
    assert.ok(!actions(statements).some((a) => /Delete|Reboot|Stop/.test(a)), actions(statements).join());
  });

  test('an Aurora cluster: cluster restore, its members created under its name, cluster renames; the key through RDS only', () => {
    const { template, flow, stack } = buildFlowStack({
      props: (s, vpc) => {
        const cluster = new rds.DatabaseCluster(s, 'Aurora', {
          engine: rds.DatabaseClusterEngine.auroraPostgres({
            version: rds.AuroraPostgresEngineVersion.VER_16_4,
          }),
          writer: rds.ClusterInstance.provisioned('writer'),
          vpc,
          storageEncrypted: true,
        });
        return {
          database: ReleaseDatabase.cluster(cluster),
          rollback: {
            databaseKey: kms.Key.fromKeyArn(s, 'DbKey', 'arn:aws:kms:eu-west-1:123456789012:key/abcd'),
          },
        };
      },
    });
    const statements = statementsOf(template, stack, flow.functions.restore.role);
    assert.deepEqual(
      actions(statements).filter((a) => a.startsWith('rds:') || a.startsWith('kms:')),
      [
        'kms:CreateGrant',
        'kms:DescribeKey',
        'rds:AddTagsToResource',
        'rds:CreateDBInstance',
        'rds:DescribeDBClusterSnapshots',
        'rds:DescribeDBClusters',
        'rds:DescribeDBInstances',
        'rds:ModifyDBCluster',
        'rds:RestoreDBClusterFromSnapshot',
      ],
    );
    const cluster = stack.getLogicalId(stack.node.findChild('Aurora').node.defaultChild as never);
    assert.deepEqual(resourcesOf(statements, 'rds:ModifyDBCluster'), [
      ARN(`cluster:<${cluster}>`),
      ARN(`cluster:<${cluster}>-*`),
    ]);
    assert.deepEqual(resourcesOf(statements, 'rds:CreateDBInstance'), [
      ARN(`cluster:<${cluster}>-*`),
      ARN(`db:<${cluster}>-*`),
      ARN('og:*'),
      ARN('pg:*'),
      ARN('subgrp:*'),
    ]);
    assert.deepEqual(statements.find((s) => actions([s]).includes('kms:CreateGrant'))?.Condition, {
      StringEquals: { 'kms:ViaService': 'rds.<AWS::Region>.amazonaws.com' },
    });
    assert.ok(!actions(statements).some((a) => /Delete|Reboot|Stop/.test(a)));
  });

  test('a second state machine with its own alarm, sharing the release timeout', () => {
    const { template, flow, stack } = buildFlowStack();
    const machines = template.findResources('AWS::StepFunctions::StateMachine');
    const rollback = machines[stack.getLogicalId(flow.rollbackStateMachine.node.defaultChild as never)];
    const release = machines[stack.getLogicalId(flow.stateMachine.node.defaultChild as never)];
    assert.ok(rollback && release);
    assert.notEqual(rollback, release);
    const alarm =
      template.findResources('AWS::CloudWatch::Alarm')[
        stack.getLogicalId(flow.rollbackFailureAlarm.node.defaultChild as never)
      ];
    assert.match(alarm?.Properties.AlarmDescription, /lockstep rollback execution failed/);
  });

  test('the confirmation before the switch waits rollback.confirmTimeout, an hour by default, and says so to the function', () => {
    const confirmation = (props: Record<string, unknown>) => {
      const { template, flow, stack } = buildFlowStack({ props: () => props });
      const machine = template.findResources('AWS::StepFunctions::StateMachine')[
        stack.getLogicalId(flow.rollbackStateMachine.node.defaultChild as never)
      ];
      return JSON.stringify(machine);
    };
    // In the template the definition's quotes are escaped: \"
    const gate = (seconds: number) => `\\"TimeoutSeconds\\":${seconds},\\"ResultPath\\":\\"$.approval\\"`;
    assert.ok(confirmation({}).includes(gate(3600)));
    const longer = confirmation({ rollback: { confirmTimeout: Duration.minutes(45) } });
    assert.ok(longer.includes(gate(2700)));
    assert.ok(longer.includes('\\"timeoutSeconds\\":2700'));
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'a restore that cannot fit in the release timeout',
      { rollback: { restoreTimeout: Duration.hours(6) } },
      /rollback\.restoreTimeout/,
    ],
    [
      'a poll interval longer than a rename may take',
      { rollback: { pollInterval: Duration.hours(1) } },
      /rollback\.pollInterval/,
    ],
    [
      'a rename allowed longer than the restore',
      { rollback: { restoreTimeout: Duration.minutes(10), renameTimeout: Duration.minutes(20) } },
      /rollback\.renameTimeout/,
    ],
    [
      'a confirmation under a minute',
      { rollback: { confirmTimeout: Duration.seconds(30) } },
      /rollback\.confirmTimeout must be a whole number of seconds, at least a minute/,
    ],
    [
      'a confirmation that cannot fit in the release timeout',
      { rollback: { confirmTimeout: Duration.hours(2) } },
      /rollback\.restoreTimeout with the confirmation, two renames and the deploy must fit in releaseTimeout/,
    ],
  ];
  for (const [what, props, message] of invalid) {
    test(`rejects ${what} at synth, naming the prop`, () => {
      assert.throws(() => buildFlowStack({ props: () => props }), message);
    });
  }
});
