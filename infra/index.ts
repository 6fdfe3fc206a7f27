/**
 * lockstep's CDK API, as an installed package gives it: `import { ReleaseFlow } from 'lockstep'` (package.json
 * `exports`). TypeScript source: run the CDK app with tsx (`"app": "npx tsx bin/app.ts"`), as this repository does.
 */
export {
  type ApprovalOptions,
  type CommandMigrationsProps,
  type MigrationLintOptions,
  MigrationsSource,
  ReleaseDatabase,
  ReleaseFlow,
  type ReleaseFlowProps,
  type ReleaseFunctions,
  type SnapshotSettings,
} from './constructs/release-flow.ts';
export type {
  ImagePushOptions,
  IReleaseTarget,
  PipelineActionInput,
  PipelineActionProps,
} from './constructs/release-triggers.ts';
export type { RollbackSettings } from './constructs/rollback-flow.ts';
