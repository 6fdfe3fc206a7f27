/**
 * Links into the AWS Management Console of the partition a resource lives in. The commercial partition has
 * Regional console endpoints, `https://region-code.console.aws.amazon.com` (AWS General Reference, "AWS Management
 * Console endpoints and quotas"); China's console is `console.amazonaws.cn` and AWS GovCloud (US)'s
 * `console.amazonaws-us-gov.com`, with the Region in the `region` query parameter.
 */
const CONSOLE_HOSTS: Readonly<Record<string, string>> = {
  'aws-cn': 'console.amazonaws.cn',
  'aws-us-gov': 'console.amazonaws-us-gov.com',
};

/** The console page at `path` (from its first `/`) for `region` of `partition`, with `region=` added to its query. */
export function consoleLink(partition: string, region: string, path: string): string {
  const host = CONSOLE_HOSTS[partition] ?? `${region}.console.aws.amazon.com`;
  return `https://${host}${path}${path.includes('?') ? '&' : '?'}region=${region}`;
}
