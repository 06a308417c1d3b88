/**
 * Go templates in tags, as registrator v7.4 runs them on `-tags` (and fayrus v9 on SERVICE_TAGS): Go 1.19's
 * text/template, executed against the container as go-dockerclient decodes it, with v7.4's function map.
 * Pure: the only I/O is an httpGet the caller may inject.
 */
import { printArg, printForTemplate } from "./fmt.js";
import { BUILTINS, type TemplateFunctions } from "./functions.js";
import { TEMPLATE_NAME, TemplateError, goQuote } from "./lex.js";
import { TEMPLATE_LIMITS, checkSource, withBudget } from "./limits.js";
import { parseTemplate } from "./parse.js";
import { PipelineEvaluator } from "./pipeline-evaluator.js";
import { nodeString, type ControlNode, type Node, type PipeNode, type TemplateNode } from "./syntax-tree.js";
import { kindOf, rangeEntries, typeName } from "./values.js";

export { TemplateError } from "./lex.js";
export { tagFunctions, type TagFunctionOptions, type TemplateFunction, type TemplateFunctions } from "./functions.js";
export { goContainerView } from "./values.js";
export { LimitExceeded, TEMPLATE_LIMITS } from "./limits.js";

/**
 * Parses and executes a template within TEMPLATE_LIMITS. Every failure is a TemplateError, with Go's message
 * where Go has one, e.g. `template: tags:1: function "foo" not defined`.
 */
export function renderTemplate(source: string, data: unknown, functions: TemplateFunctions): string {
  try {
    checkSource(source);
    const names = new Set([...Object.keys(BUILTINS), ...Object.keys(functions)]);
    return new Execution(source, parseTemplate(source, names), functions).run(data);
  } catch (e) {
    // Whatever a template provokes (a stack too deep, a string too long) fails that template alone.
    if (e instanceof TemplateError) throw e;
    throw new TemplateError(`template: ${TEMPLATE_NAME}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** {{break}} and {{continue}} unwind to the innermost range. */
class Jump {
  constructor(readonly kind: "break" | "continue") {}
}

/** Walks the tree: text, actions, and the control structures around them. */
class Execution extends PipelineEvaluator {
  run(data: unknown): string {
    const dot = data ?? undefined;
    this.vars = [{ name: "$", value: dot }];
    withBudget(this.budget, () => this.walk(dot, this.templates.get(TEMPLATE_NAME)!));
    return this.out.join("");
  }

  private walk(dot: unknown, node: Node): void {
    this.at(node);
    if (node.kind !== "list" && node.kind !== "text") this.step();
    switch (node.kind) {
      case "action": {
        const value = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.print(node, value);
        return;
      }
      case "if":
      case "with":
        return this.walkIfOrWith(dot, node);
      case "list":
        return node.nodes.forEach((n) => this.walk(dot, n));
      case "range":
        return this.walkRange(dot, node);
      case "template":
        return this.walkTemplate(dot, node);
      case "text":
        return this.write(node.text);
      case "break":
      case "continue":
        throw new Jump(node.kind);
      default:
        this.errorf(`unknown node: ${nodeString(node)}`);
    }
  }

  private print(node: Node, value: unknown): void {
    this.at(node);
    if (kindOf(value) === "func") this.errorf(`can't print ${nodeString(node)} of type ${typeName(value)}`);
    this.write(printForTemplate(value));
  }

  /** Variables declared in the condition live until the {{end}}. */
  private walkIfOrWith(dot: unknown, node: ControlNode): void {
    const mark = this.vars.length;
    try {
      const value = this.evalPipeline(dot, node.pipe);
      if (this.truth(value)) this.walk(node.kind === "with" ? value : dot, node.list);
      else if (node.elseList) this.walk(dot, node.elseList);
    } finally {
      this.vars.length = mark;
    }
  }

  private walkRange(dot: unknown, node: ControlNode): void {
    this.at(node);
    const mark = this.vars.length;
    try {
      const value = this.evalPipeline(dot, node.pipe);
      const entries = rangeEntries(value) ?? this.errorf(`range can't iterate over ${printArg(value, "v", {})}`);
      this.charge(entries.length);
      if (entries.length === 0 && node.elseList) this.walk(dot, node.elseList);
      const inner = this.vars.length;
      for (const [index, elem] of entries) {
        this.at(node);
        this.step();
        this.setRangeVariables(node.pipe, index, elem);
        try {
          this.walk(elem, node.list);
        } catch (e) {
          if (!(e instanceof Jump)) throw e;
          if (e.kind === "break") break;
        } finally {
          this.vars.length = inner;
        }
      }
    } finally {
      this.vars.length = mark;
    }
  }

  /** `range $v :=` takes the element; `range $i, $v :=` the index (or key) and the element. */
  private setRangeVariables(pipe: PipeNode, index: unknown, elem: unknown): void {
    const [first, second] = pipe.decl.map((v) => v.ident[0]!);
    if (first === undefined) return;
    if (pipe.isAssign) {
      if (second === undefined) this.setVar(first, elem);
      else {
        this.setVar(first, index);
        this.setVar(second, elem);
      }
      return;
    }
    this.vars[this.vars.length - 1]!.value = elem;
    if (second !== undefined) this.vars[this.vars.length - 2]!.value = index;
  }

  /** A called template sees only its argument: as dot and as `$`. */
  private walkTemplate(dot: unknown, node: TemplateNode): void {
    this.at(node);
    const tree = this.templates.get(node.name) ?? this.errorf(`template ${goQuote(node.name)} not defined`);
    if (this.depth >= TEMPLATE_LIMITS.templateDepth) this.errorf(`exceeded maximum template depth (${TEMPLATE_LIMITS.templateDepth})`);
    const value = this.evalPipeline(dot, node.pipe);
    const saved = { vars: this.vars, name: this.name };
    [this.vars, this.name] = [[{ name: "$", value }], node.name];
    this.depth++;
    try {
      this.walk(value, tree);
    } finally {
      [this.vars, this.name] = [saved.vars, saved.name];
      this.depth--;
    }
  }
}
