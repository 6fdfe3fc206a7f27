/**
 * A stack deployed before the infra reshaping must update in place: every logical ID the example stack had then
 * (synthesized at e6ca093) is still there, so CloudFormation replaces nothing by ID. (The execution log group keeps
 * its ID but gets a name, so CloudFormation replaces that one resource: the README says so.)
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { App } from 'aws-cdk-lib';
import { ReleaseStack } from '../../infra/release-stack.ts';

const BEFORE = [
  'AppLogsC5DF83A6',
  'AppRepositoryB584A693',
  'AppServiceA2F9036C',
  'AppServiceSecurityGroupCD648D82',
  'AppTask3BD371F9',
  'AppTaskExecutionRoleDefaultPolicy14384982',
  'AppTaskExecutionRoleE2BC84DF',
  'AppTaskTaskRole6D8E3660',
  'ClusterEB0386A7',
  'DatabaseB269D8BB',
  'DatabaseSecretAttachmentE5D1B020',
  'DatabaseSecurityGroup5C91FDCB',
  'DatabaseSecurityGroupfromLockstepReleaseAppServiceSecurityGroup0626F5A2IndirectPort5FAD9062',
  'DatabaseSecurityGroupfromLockstepReleaseMigrateSecurityGroupFD8084D6IndirectPort1F56A150',
  'DatabaseSubnetGroup7D60F180',
  'LockstepReleaseDatabaseSecret992475283fdaad7efa858a3daf9490cf0a702aeb',
  'ReleaseAlertKey4060C287',
  'ReleaseAlerts798FFD7A',
  'ReleaseAlertsPolicy8110E335',
  'ReleaseDeploy4894F187',
  'ReleaseDeployRole08C6D2CD',
  'ReleaseDeployRoleDefaultPolicy73AF579E',
  'ReleaseExecutionLogs35ACA842',
  'ReleaseFailureAlarmF1433C31',
  'ReleaseImagePushLockstepReleaseAppRepository1AF2830B9FC2B5CE',
  'ReleaseImagePushRoleLockstepReleaseAppRepository1AF2830B467701EA',
  'ReleaseImagePushRoleLockstepReleaseAppRepository1AF2830BDefaultPolicy4CD2A070',
  'ReleaseMigrate42DC99F9',
  'ReleaseMigrateRoleA499C5D3',
  'ReleaseMigrateRoleDefaultPolicy2F064A54',
  'ReleaseMigrateSecurityGroupC2297836',
  'ReleaseMigrateSecurityGrouptoLockstepReleaseDatabaseSecurityGroupC9A5DBEDIndirectPort944277CD',
  'ReleasePreflightA67ECA83',
  'ReleasePreflightRole171A2489',
  'ReleasePreflightRoleDefaultPolicyCA640080',
  'ReleaseSnapshotBE86B21E',
  'ReleaseSnapshotRole8D9644E9',
  'ReleaseSnapshotRoleDefaultPolicy933BED24',
  'ReleaseStateMachine5C3CB62B',
  'ReleaseStateMachineRoleD5EA53A1',
  'ReleaseStateMachineRoleDefaultPolicyE8EAA67A',
  'ReleasedeployLogsBD1E670F',
  'ReleasemigrateLogsDE84A15D',
  'ReleasepreflightLogs773CBAFE',
  'ReleasesnapshotLogs71E5181E',
  'Vpc8378EB38',
  'VpcIGWD7BA715C',
  'VpcPrivateSubnet1DefaultRouteBE02A9ED',
  'VpcPrivateSubnet1RouteTableAssociation70C59FA6',
  'VpcPrivateSubnet1RouteTableB2C5B500',
  'VpcPrivateSubnet1Subnet536B997A',
  'VpcPrivateSubnet2DefaultRoute060D2087',
  'VpcPrivateSubnet2RouteTableA678073B',
  'VpcPrivateSubnet2RouteTableAssociationA89CAD56',
  'VpcPrivateSubnet2Subnet3788AAA1',
  'VpcPublicSubnet1DefaultRoute3DA9E72A',
  'VpcPublicSubnet1EIPD7E02669',
  'VpcPublicSubnet1NATGateway4D7517AA',
  'VpcPublicSubnet1RouteTable6C95E38E',
  'VpcPublicSubnet1RouteTableAssociation97140677',
  'VpcPublicSubnet1Subnet5C2D37C4',
  'VpcPublicSubnet2DefaultRoute97F91067',
  'VpcPublicSubnet2RouteTable94F7E489',
  'VpcPublicSubnet2RouteTableAssociationDD5762D8',
  'VpcPublicSubnet2Subnet691E08A3',
  'VpcVPCGWBF912B6E',
  'VpcallFlowLogF5ACEAEC',
  'VpcallIAMRole2920156A',
  'VpcallIAMRoleDefaultPolicy74D10B9F',
  'VpcallLogGroup3BAB8D32',
];

test('every logical ID of the example stack before the reshaping is kept', () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ReleaseStack(app, 'LockstepRelease', {
    repoRoot: resolve(import.meta.dirname, '..', '..'),
    migrationsSource: 'bundled',
  });
  const now = Object.keys(app.synth().getStackArtifact(stack.artifactId).template.Resources);
  assert.deepEqual(
    BEFORE.filter((id) => !now.includes(id)),
    [],
    'logical IDs that would be replaced',
  );
});
