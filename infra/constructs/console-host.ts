/**
 * The AWS Management Console's host in the partition the stack deploys to, for the links alerts carry. The commercial
 * partition has Regional console endpoints, `https://region-code.console.aws.amazon.com` (AWS General Reference, "AWS
 * Management Console endpoints and quotas"); China's console is `console.amazonaws.cn` and AWS GovCloud (US)'s
 * `console.amazonaws-us-gov.com`, each taking the Region in the `region` query parameter (functions/shared/console-link.ts
 * does the same for the links the functions build).
 *
 * A stack whose Region is known at synth has a known partition (CDK's Region facts), and the host is a plain string.
 * Otherwise the partition
 * is `AWS::Partition`, known only at deploy time: the host is an `Fn::If` over two conditions on it, added to the stack
 * once. Any other partition gets the commercial host: a wrong link, never a failed deploy.
 */
import { Aws, CfnCondition, Fn, Stack, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import type { Construct } from 'constructs';

const HOSTS: Readonly<Record<string, string>> = {
  'aws-cn': 'console.amazonaws.cn',
  'aws-us-gov': 'console.amazonaws-us-gov.com',
};

const CONDITIONS: ReadonlyArray<readonly [id: string, partition: string]> = [
  ['LockstepConsoleInChina', 'aws-cn'],
  ['LockstepConsoleInGovCloud', 'aws-us-gov'],
];

/** The console host for `scope`'s stack (a string with tokens when the partition is known only at deploy time). */
export function consoleHost(scope: Construct): string {
  const stack = Stack.of(scope);
  // A stack's `partition` stays a token even with its Region given; the Region's facts name its partition.
  const known = Token.isUnresolved(stack.region) ? undefined : RegionInfo.get(stack.region).partition;
  if (known !== undefined) return HOSTS[known] ?? `${stack.region}.console.aws.amazon.com`;
  let host: string = `${Aws.REGION}.console.aws.amazon.com`;
  for (const [id, partition] of [...CONDITIONS].reverse()) {
    const condition =
      (stack.node.tryFindChild(id) as CfnCondition | undefined) ??
      new CfnCondition(stack, id, { expression: Fn.conditionEquals(Aws.PARTITION, partition) });
    host = Fn.conditionIf(condition.logicalId, HOSTS[partition] as string, host).toString();
  }
  return host;
}
