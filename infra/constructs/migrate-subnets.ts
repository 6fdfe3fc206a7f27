/**
 * Where the migrate function's subnets lead. Without a NAT gateway (isolated subnets) it reaches Secrets Manager and
 * S3 only through VPC endpoints (`vpcEndpoints`). A selection by subnet type says so directly; a selection by subnet
 * group name or by explicit subnets is compared, subnet by subnet, with the VPC's own lists: a subnet is isolated
 * when it is one of `vpc.isolatedSubnets` (the same construct, the same token, or the same literal ID of an imported
 * VPC). A subnet in none of the VPC's lists (imported by ID alone) cannot be classified here.
 */
import { Token } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';

export interface SubnetRoutes {
  /** Selected subnets that are the VPC's isolated ones. */
  readonly isolated: readonly string[];
  /** Selected subnets the VPC lists as neither public, private nor isolated. */
  readonly unclassified: readonly string[];
}

export function classifySubnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection): SubnetRoutes {
  const selected = vpc.selectSubnets(selection).subnets;
  const ids = (subnets: readonly ec2.ISubnet[]) => new Set(subnets.map((s) => s.subnetId));
  const isolated = ids(vpc.isolatedSubnets);
  const known = new Set([...ids(vpc.publicSubnets), ...ids(vpc.privateSubnets), ...isolated]);
  return {
    isolated: selected.filter((s) => isolated.has(s.subnetId)).map(describeSubnet),
    unclassified: selected.filter((s) => !known.has(s.subnetId)).map(describeSubnet),
  };
}

/** A subnet as a person finds it: its literal ID, else its construct path. */
function describeSubnet(subnet: ec2.ISubnet): string {
  return Token.isUnresolved(subnet.subnetId) ? subnet.node.path : subnet.subnetId;
}
