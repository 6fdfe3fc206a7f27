/**
 * Where the migration command's output is, for the alert's last lines: the CloudWatch Logs group and stream of one
 * container of one task, derived from the task definition's `logConfiguration`. Only the `awslogs` driver with a
 * stream prefix names its streams predictably: "If you specify a prefix with this option, then the log stream
 * takes the following format: prefix-name/container-name/ecs-task-id" (AWS CDK API Reference, AwsLogDriverProps,
 * streamPrefix, quoting the awslogs driver's documentation). Without a prefix the stream is named after the Docker
 * container id, which the task description does not carry: there is nothing to read then.
 */
import type { ContainerDefinition } from '@aws-sdk/client-ecs';

export interface TaskLogStream {
  readonly logGroup: string;
  readonly logStream: string;
  /** `awslogs-region`, when the task definition sets one (the group may be in another region than the task). */
  readonly region: string | undefined;
}

/** The stream `container` of the task `taskArn` writes to, or undefined when it cannot be known. */
export function taskLogStream(container: ContainerDefinition, taskArn: string): TaskLogStream | undefined {
  const config = container.logConfiguration;
  if (config?.logDriver !== 'awslogs') return undefined;
  const group = config.options?.['awslogs-group'];
  const prefix = config.options?.['awslogs-stream-prefix'];
  // The task id is the ARN's last segment, in the old (task/id) and the long (task/cluster/id) formats alike.
  const taskId = /:task\/(?:[^/]+\/)?([^/]+)$/.exec(taskArn)?.[1];
  if (!group || !prefix || !container.name || !taskId) return undefined;
  return {
    logGroup: group,
    logStream: `${prefix}/${container.name}/${taskId}`,
    region: config.options?.['awslogs-region'],
  };
}
