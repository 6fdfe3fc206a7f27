/**
 * Isolated subnets without VPC endpoints fail at synth however the migrate function's subnets are selected: by
 * type, by subnet group name, or as explicit subnets of a VPC whose isolated subnets are known. Subnets the VPC does
 * not list are warned about instead of being called safe.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { ReleaseFlowProps } from '../../infra/constructs/release-flow.ts';
import { buildFlowStack } from '../support/flow-stack.ts';

/** Public, private (NAT) and isolated subnets in two AZs. */
const threeTierVpc = (stack: Stack) =>
  new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });

/** A VPC imported by attributes: its isolated subnets are known by literal ID. */
const importedVpc = (stack: Stack) =>
  ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0a1b2c3d',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    publicSubnetIds: ['subnet-pub-a', 'subnet-pub-b'],
    privateSubnetIds: ['subnet-app-a', 'subnet-app-b'],
    isolatedSubnetIds: ['subnet-data-a', 'subnet-data-b'],
  });

const build = (
  vpc: (stack: Stack) => ec2.IVpc,
  props: (stack: Stack, vpc: ec2.IVpc) => Partial<ReleaseFlowProps>,
) => buildFlowStack({ vpc, props });

const subnetWarnings = (stack: Stack) =>
  Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('cannot tell whether they reach'));

const NEEDS_ENDPOINTS = /ReleaseFlow: vpcEndpoints must be true when vpcSubnets selects isolated subnets/;

describe('the migrate function in isolated subnets needs vpcEndpoints', () => {
  test('selected by subnet group name', () => {
    assert.throws(
      () => build(threeTierVpc, () => ({ vpcSubnets: { subnetGroupName: 'data' } })),
      NEEDS_ENDPOINTS,
    );
  });

  test('selected as the VPC’s isolated subnets, explicitly', () => {
    assert.throws(
      () => build(threeTierVpc, (_, vpc) => ({ vpcSubnets: { subnets: vpc.isolatedSubnets } })),
      NEEDS_ENDPOINTS,
    );
  });

  test('one isolated subnet among private ones is enough to fail, and is named', () => {
    assert.throws(
      () =>
        build(threeTierVpc, (_, vpc) => ({
          vpcSubnets: { subnets: [...vpc.privateSubnets, vpc.isolatedSubnets[0] as ec2.ISubnet] },
        })),
      /isolated subnets \(Test\/Vpc\/dataSubnet1\)/,
    );
  });

  test('an imported VPC’s isolated subnet, given by ID', () => {
    assert.throws(
      () =>
        build(importedVpc, (stack) => ({
          vpcSubnets: {
            subnets: [
              ec2.Subnet.fromSubnetAttributes(stack, 'Data', {
                subnetId: 'subnet-data-a',
                availabilityZone: 'eu-west-1a',
              }),
            ],
          },
        })),
      /isolated subnets \(subnet-data-a\)/,
    );
  });

  test('with vpcEndpoints, each of these synthesizes', () => {
    for (const vpcSubnets of [
      { subnetGroupName: 'data' },
      { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ] as ec2.SubnetSelection[]) {
      const { stack } = build(threeTierVpc, () => ({ vpcSubnets, vpcEndpoints: true }));
      assert.deepEqual(subnetWarnings(stack), []);
    }
  });
});

describe('subnets with a NAT route, and subnets nobody can classify', () => {
  test('private subnets, by group name or explicitly, synthesize without a warning', () => {
    for (const selection of [
      () => ({ subnetGroupName: 'app' }),
      (vpc: ec2.IVpc) => ({ subnets: vpc.privateSubnets }),
    ]) {
      const { stack } = build(threeTierVpc, (_, vpc) => ({ vpcSubnets: selection(vpc) }));
      assert.deepEqual(subnetWarnings(stack), []);
    }
  });

  test('a subnet the VPC does not list is warned about, by ID, not called safe', () => {
    const { stack } = build(importedVpc, (s) => ({
      vpcSubnets: {
        subnets: [
          ec2.Subnet.fromSubnetAttributes(s, 'Other', {
            subnetId: 'subnet-elsewhere',
            availabilityZone: 'eu-west-1a',
          }),
        ],
      },
    }));
    const warnings = subnetWarnings(stack);
    assert.equal(warnings.length, 1);
    assert.match(JSON.stringify(warnings[0]?.entry.data), /subnet-elsewhere.*set vpcEndpoints: true/);
  });

  test('with vpcEndpoints, the unclassifiable subnet needs no warning', () => {
    const { stack } = build(importedVpc, (s) => ({
      vpcEndpoints: true,
      vpcSubnets: {
        subnets: [
          ec2.Subnet.fromSubnetAttributes(s, 'Other', {
            subnetId: 'subnet-elsewhere',
            availabilityZone: 'eu-west-1a',
            routeTableId: 'rtb-elsewhere',
          }),
        ],
      },
    }));
    assert.deepEqual(subnetWarnings(stack), []);
  });
});
