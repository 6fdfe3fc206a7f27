/**
 * cdk-nag plumbing shared by the construct and the example stack; not part of the construct's API (import
 * release-flow.ts for that).
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges cdk-nag's AwsSolutions-IAM5 finding for exactly one wildcard resource on one construct (a role,
 * with its default policy, or the narrowest construct holding the roles that carry it), with the reason it cannot
 * be narrower. The id is the resource as cdk-nag prints it: references flattened to `<LogicalId.Attribute>`.
 */
export function acknowledgeWildcard(scope: IConstruct | undefined, resource: string, reason: string): void {
  if (!scope) return;
  const flat = flattenReference(Stack.of(scope).resolve(resource));
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
}

/** cdk-nag's rendering of a resolved CloudFormation value (its flattenCfnReference). */
function flattenReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const o = node as Record<string, unknown>;
  if (o['Fn::Join']) {
    const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
    return items.map(flattenReference).join(delimiter);
  }
  if (o['Fn::Sub']) return flattenReference(o['Fn::Sub']);
  if (o['Fn::GetAtt']) {
    const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
    return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
  }
  if (o['Fn::ImportValue']) return flattenReference(o['Fn::ImportValue']);
  if (o.Ref) return `<${flattenReference(o.Ref)}>`;
  return JSON.stringify(node);
}

/** Why a state machine's role has `*`: what Step Functions' logging and tracing need (both state machines). */
export const STATE_MACHINE_WILDCARD_REASON =
  'CloudWatch Logs delivery (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ' +
  'ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and X-Ray tracing ' +
  '(PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) support no resource-level permissions.';
