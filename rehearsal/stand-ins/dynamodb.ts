/**
 * DynamoDB for the rehearsal's release lock: one table in memory, keyed by a string partition key, with the
 * PutItem, GetItem and DeleteItem that preflight's lock and the state machine's unlock states send, conditions
 * included (`attribute_exists`/`attribute_not_exists`, comparisons, AND/OR); and, for the approval gate, UpdateItem
 * (`SET a = :a, …` or `REMOVE a, …`, conditioned) and a Scan filtered the same way (`lockstep approve`). The tests run the same lock on
 * dynalite, a real DynamoDB implementation, and test/rehearsal/stand-ins.test.ts checks this one agrees with it.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DeleteItemCommandInput,
  DynamoDBClient,
  GetItemCommand,
  type GetItemCommandInput,
  PutItemCommand,
  type PutItemCommandInput,
  ResourceNotFoundException,
  ScanCommand,
  type ScanCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { LOCAL_CLIENT_CONFIG, notImplemented } from './account.ts';

type Item = Record<string, AttributeValue>;

interface Condition {
  readonly ConditionExpression?: string | undefined;
  readonly ExpressionAttributeNames?: Record<string, string> | undefined;
  readonly ExpressionAttributeValues?: Record<string, AttributeValue> | undefined;
}

export class LocalDynamoTable {
  private readonly items = new Map<string, Item>();

  constructor(
    readonly tableName: string,
    private readonly partitionKey: string,
  ) {}

  putItem(input: PutItemCommandInput) {
    const item = input.Item ?? {};
    const key = this.keyOf(input.TableName, item);
    this.check(this.items.get(key), input);
    this.items.set(key, structuredClone(item));
    return {};
  }

  getItem(input: GetItemCommandInput) {
    const item = this.items.get(this.keyOf(input.TableName, input.Key ?? {}));
    return item ? { Item: structuredClone(item) } : {};
  }

  deleteItem(input: DeleteItemCommandInput) {
    const key = this.keyOf(input.TableName, input.Key ?? {});
    this.check(this.items.get(key), input);
    this.items.delete(key);
    return {};
  }

  updateItem(input: UpdateItemCommandInput) {
    const key = this.keyOf(input.TableName, input.Key ?? {});
    const current = this.items.get(key);
    this.check(current, input);
    const item = structuredClone(current ?? input.Key ?? {});
    const expression = (input.UpdateExpression ?? '').trim();
    const set = /^SET\s+(.+)$/i.exec(expression);
    const remove = /^REMOVE\s+(.+)$/i.exec(expression);
    const name = (token: string) => input.ExpressionAttributeNames?.[token] ?? token;
    if (set) {
      for (const assignment of (set[1] ?? '').split(',')) {
        const [target, value] = assignment.split('=').map((part) => part.trim());
        const attribute = input.ExpressionAttributeValues?.[value ?? ''];
        if (!target || !attribute) throw new Error(`the local DynamoDB does not understand "${assignment}"`);
        item[name(target)] = structuredClone(attribute);
      }
    } else if (remove) {
      for (const target of (remove[1] ?? '').split(',')) delete item[name(target.trim())];
    } else throw new Error(`the local DynamoDB does not understand the update "${expression}"`);
    this.items.set(key, item);
    return {};
  }

  scan(input: ScanCommandInput) {
    this.checkTable(input.TableName);
    const filter = input.FilterExpression;
    const items = [...this.items.values()].filter(
      (item) =>
        !filter ||
        evaluate(filter, item, {
          ExpressionAttributeNames: input.ExpressionAttributeNames,
          ExpressionAttributeValues: input.ExpressionAttributeValues,
        }),
    );
    return { Items: items.map((item) => structuredClone(item)), Count: items.length };
  }

  client(): DynamoDBClient {
    return new LocalDynamoClient(this);
  }

  private keyOf(table: string | undefined, item: Item): string {
    this.checkTable(table);
    const key = item[this.partitionKey]?.S;
    if (key === undefined) throw new Error(`the key ${this.partitionKey} must be a string`);
    return key;
  }

  private checkTable(table: string | undefined): void {
    if (table !== this.tableName)
      throw new ResourceNotFoundException({
        message: `Requested resource not found: ${table}`,
        $metadata: {},
      });
  }

  private check(current: Item | undefined, condition: Condition): void {
    if (!condition.ConditionExpression) return;
    if (!evaluate(condition.ConditionExpression, current, condition))
      throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
  }
}

/** `a OR b AND c`: OR of ANDs of terms, as lockstep writes them (no parentheses, no NOT). */
function evaluate(expression: string, item: Item | undefined, condition: Condition): boolean {
  return expression
    .split(/\s+OR\s+/)
    .some((conjunction) =>
      conjunction.split(/\s+AND\s+/).every((term) => evaluateTerm(term.trim(), item, condition)),
    );
}

function evaluateTerm(term: string, item: Item | undefined, condition: Condition): boolean {
  const name = (token: string) => condition.ExpressionAttributeNames?.[token] ?? token;
  const operand = (token: string): AttributeValue | undefined =>
    token.startsWith(':') ? condition.ExpressionAttributeValues?.[token] : item?.[name(token)];
  const exists = /^attribute_(not_)?exists\((\S+)\)$/.exec(term);
  if (exists) return (item?.[name(exists[2] ?? '')] === undefined) === (exists[1] !== undefined);
  const comparison = /^(\S+)\s*(=|<>|<=|>=|<|>)\s*(\S+)$/.exec(term);
  if (!comparison) throw new Error(`the local DynamoDB does not understand the condition "${term}"`);
  const [, left, op, right] = comparison;
  const a = operand(left ?? '');
  const b = operand(right ?? '');
  if (a === undefined || b === undefined) return op === '<>' && (a === undefined) !== (b === undefined);
  const order = compare(a, b);
  if (order === undefined) return op === '<>';
  return {
    '=': order === 0,
    '<>': order !== 0,
    '<': order < 0,
    '<=': order <= 0,
    '>': order > 0,
    '>=': order >= 0,
  }[op as string] as boolean;
}

/** Numbers as numbers, strings as strings; values of different types do not compare. */
function compare(a: AttributeValue, b: AttributeValue): number | undefined {
  if (a.N !== undefined && b.N !== undefined) return Math.sign(Number(a.N) - Number(b.N));
  if (a.S !== undefined && b.S !== undefined) return a.S < b.S ? -1 : a.S > b.S ? 1 : 0;
  return undefined;
}

class LocalDynamoClient extends DynamoDBClient {
  constructor(private readonly table: LocalDynamoTable) {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    const meta = { $metadata: {} };
    if (command instanceof PutItemCommand) return { ...this.table.putItem(command.input), ...meta };
    if (command instanceof GetItemCommand) return { ...this.table.getItem(command.input), ...meta };
    if (command instanceof DeleteItemCommand) return { ...this.table.deleteItem(command.input), ...meta };
    if (command instanceof UpdateItemCommand) return { ...this.table.updateItem(command.input), ...meta };
    if (command instanceof ScanCommand) return { ...this.table.scan(command.input), ...meta };
    throw notImplemented('DynamoDB', command);
  }) as DynamoDBClient['send'];
}
