/** What an execution carries as it walks: variables, output, the work budget, and where to report an error. */
import { TEMPLATE_NAME, TemplateError, goQuote, location } from "./lex.js";
import { Budget, LimitExceeded, TEMPLATE_LIMITS, checkValueSize, measure } from "./limits.js";
import type { TemplateFunctions } from "./functions.js";
import { nodeString, type CommandNode, type Node, type Operand, type Templates } from "./syntax-tree.js";
import { isTrue, kindOf } from "./values.js";

export class ExecutionState {
  protected vars: Array<{ name: string; value: unknown }> = [];
  private node: Node | Operand | CommandNode | undefined;
  protected name = TEMPLATE_NAME;
  protected depth = 0;
  protected readonly out: string[] = [];
  private outBytes = 0;
  protected readonly budget = new Budget();

  constructor(
    private readonly source: string,
    protected readonly templates: Templates,
    protected readonly functions: TemplateFunctions,
  ) {}

  protected write(text: string): void {
    this.outBytes += Buffer.byteLength(text);
    if (this.outBytes > TEMPLATE_LIMITS.outputBytes) {
      this.errorf(`output over ${TEMPLATE_LIMITS.outputBytes} bytes, the most a template may print`);
    }
    this.out.push(text);
  }

  /** A limit reached is reported as Go reports an execution error: with the template and the node. */
  private within(check: () => void): void {
    try {
      check();
    } catch (e) {
      if (e instanceof LimitExceeded) this.errorf(e.message);
      throw e;
    }
  }

  /** A function's argument or result: no larger than a value may be, and its size counted as work. */
  protected weigh(value: unknown, what: string): unknown {
    const size = measure(value);
    checkValueSize(size, what);
    this.charge(size);
    return value;
  }

  /** Go's truth of a value; a map's costs a look at each of its keys. */
  protected truth(value: unknown): boolean {
    if (kindOf(value) === "map") this.charge(measure(value));
    return isTrue(value);
  }

  protected step = () => this.within(() => this.budget.step());
  protected charge = (units: number) => this.within(() => this.budget.charge(units));

  protected at(node: Node | Operand | CommandNode): void {
    this.node = node;
  }

  protected errorf(message: string): never {
    if (!this.node) throw new TemplateError(`template: ${this.name}: ${message}`);
    const where = location(this.source, this.node.pos);
    throw new TemplateError(`template: ${where}: executing ${goQuote(this.name)} at <${nodeString(this.node)}>: ${message}`);
  }

  protected variable(name: string): { name: string; value: unknown } {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name !== name) continue;
      this.charge(this.vars.length - i);
      return this.vars[i]!;
    }
    return this.errorf(`undefined variable: ${name}`);
  }

  protected setVar(name: string, value: unknown): void {
    this.variable(name).value = value;
  }
}
