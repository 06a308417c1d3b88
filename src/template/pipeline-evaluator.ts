/** Pipelines, commands, fields, function calls and their arguments, converted as Go's reflection converts them. */
import { BUILTINS, type GoParam, type TemplateFunction } from "./functions.js";
import { TemplateError, goQuote } from "./lex.js";
import { ExecutionState } from "./execution-state.js";
import { assignable, canBeNil, zeroValue } from "./parameters.js";
import {
  nodeString,
  type ChainNode,
  type CommandNode,
  type NumberNode,
  type Operand,
  type PipeNode,
  type VariableNode,
} from "./syntax-tree.js";
import { GoFloat, GoNil, goType, kindOf, typeName } from "./values.js";

/** Marks a command that has no value piped into it. */
const MISSING = Symbol("no final argument");
type Final = unknown;

/** A function about to be called; `node` is where Go reports an error the function returns. */
interface Call {
  name: string;
  fn: TemplateFunction;
  builtin: boolean;
  node: Operand | CommandNode;
}

export class PipelineEvaluator extends ExecutionState {
  protected evalPipeline(dot: unknown, pipe: PipeNode | undefined): unknown {
    if (!pipe) return undefined;
    this.at(pipe);
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) {
      // The previous command's value is this one's final argument; a nil interface{} result is no value at all.
      value = this.evalCommand(dot, cmd, value) ?? undefined;
    }
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0]!, value);
      else this.vars.push({ name: v.ident[0]!, value });
    }
    return value;
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0]!;
    switch (first.kind) {
      case "field":
        this.at(first);
        return this.evalFieldChain(dot, first.ident, cmd.args, final);
      case "chain":
        return this.evalChain(dot, first, cmd.args, final);
      case "identifier":
        return this.evalFunction(dot, first.name, first, cmd, cmd.args, final);
      case "pipe":
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case "variable":
        return this.evalVariable(first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.kind) {
      case "bool":
        return first.value;
      case "dot":
        return dot;
      case "nil":
        return this.errorf("nil is not a command");
      case "number":
        return this.idealConstant(first);
      case "string":
        return first.text;
    }
  }

  private notAFunction(args: readonly Operand[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${nodeString(args[0]!)}`);
  }

  /** A number with no type to fit: `1.5` and `1e3` are float64, `1` and `'a'` are int. */
  private idealConstant(n: NumberNode): unknown {
    this.at(n);
    const hexInt = /^0[xX]/.test(n.text) && !/[pP]/.test(n.text);
    if (n.isFloat && !hexInt && !n.text.startsWith("'") && /[.eEpP]/.test(n.text)) return new GoFloat(n.value);
    if (n.isInt) return n.value;
    return this.errorf(`${n.text} overflows int`);
  }

  private evalChain(dot: unknown, chain: ChainNode, args: readonly Operand[], final: Final): unknown {
    this.at(chain);
    if (chain.node.kind === "nil") this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const receiver = this.evalArg(dot, undefined, chain.node);
    return this.evalFieldChain(receiver, chain.fields, args, final);
  }

  private evalVariable(variable: VariableNode, args: readonly Operand[], final: Final): unknown {
    this.at(variable);
    const name = variable.ident[0]!;
    const value = this.variable(name).value;
    if (variable.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(value, variable.ident.slice(1), args, final);
  }

  private evalFieldChain(receiver: unknown, ident: readonly string[], args: readonly Operand[], final: Final): unknown {
    for (const name of ident.slice(0, -1)) receiver = this.evalField(name, [], MISSING, receiver);
    return this.evalField(ident[ident.length - 1]!, args, final, receiver);
  }

  /** `.Name` of a struct is its field, of a map the value at that key; of no value it is no value, not an error. */
  private evalField(name: string, args: readonly Operand[], final: Final, receiver: unknown): unknown {
    if (receiver === undefined) return undefined;
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${name}`);
    const hasArgs = args.length > 1 || final !== MISSING;
    const kind = kindOf(receiver);
    const object = receiver as Record<string, unknown>;
    if (kind === "struct" && Object.hasOwn(object, name)) {
      if (hasArgs) this.errorf(`${name} has arguments but cannot be invoked as function`);
      return object[name];
    }
    if (kind === "map" && goType(object)?.key === undefined) {
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      return Object.hasOwn(object, name) ? object[name] : undefined;
    }
    if (receiver instanceof GoNil && (!receiver.fields || receiver.fields.has(name))) {
      this.errorf(`nil pointer evaluating ${receiver.type}.${name}`);
    }
    return this.errorf(`can't evaluate field ${name} in type ${typeName(receiver)}`);
  }

  private evalFunction(
    dot: unknown,
    name: string,
    node: Operand,
    cmd: Operand | CommandNode,
    args: readonly Operand[],
    final: Final,
  ): unknown {
    this.at(node);
    // The caller's functions win over builtins of the same name, as in Go.
    const own = Object.hasOwn(this.functions, name);
    const fn = own ? this.functions[name] : Object.hasOwn(BUILTINS, name) ? BUILTINS[name] : undefined;
    if (!fn) this.errorf(`${goQuote(name)} is not a defined function`);
    return this.evalCall(dot, { name, fn, builtin: !own, node: cmd }, args.slice(1), final);
  }

  private evalCall(dot: unknown, call: Call, args: readonly Operand[], final: Final): unknown {
    const { name, fn } = call;
    const numIn = args.length + (final === MISSING ? 0 : 1);
    const fixed = fn.params.length;
    if (fn.variadic !== undefined && numIn < fixed) {
      this.errorf(`wrong number of args for ${name}: want at least ${fixed} got ${args.length}`);
    }
    if (fn.variadic === undefined && numIn !== fixed) this.errorf(`wrong number of args for ${name}: want ${fixed} got ${numIn}`);
    this.step();
    if (call.builtin && (name === "and" || name === "or")) return this.andOr(dot, name, args, final);
    const argv = args.map((arg, i) => this.evalArg(dot, fn.params[i] ?? fn.variadic, arg));
    if (final !== MISSING) argv.push(this.validateType(final, fn.params[numIn - 1] ?? fn.variadic));
    try {
      for (const arg of argv) this.weigh(arg, "argument");
      return this.weigh(fn.fn(...(argv as never[])), "result");
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      this.at(call.node);
      return this.errorf(`error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** `and` stops at the first false argument and `or` at the first true one, without evaluating the rest. */
  private andOr(dot: unknown, name: "and" | "or", args: readonly Operand[], final: Final): unknown {
    let value: unknown;
    for (const arg of args) {
      value = this.evalArg(dot, "reflect.Value", arg);
      if (this.truth(value) === (name === "or")) return value;
    }
    return final === MISSING ? value : this.validateType(final, "reflect.Value");
  }

  /** One argument, converted to the parameter's type; a literal must already be of that type. */
  private evalArg(dot: unknown, type: GoParam | undefined, n: Operand): unknown {
    this.at(n);
    switch (n.kind) {
      case "dot":
        return this.validateType(dot, type);
      case "nil":
        return type && canBeNil(type) ? zeroValue(type) : this.errorf(`cannot assign nil to ${type}`);
      case "field":
        return this.validateType(this.evalFieldChain(dot, n.ident, [n], MISSING), type);
      case "variable":
        return this.validateType(this.evalVariable(n, [], MISSING), type);
      case "pipe":
        return this.validateType(this.evalPipeline(dot, n), type);
      case "identifier":
        return this.validateType(this.evalFunction(dot, n.name, n, n, [n], MISSING), type);
      case "chain":
        return this.validateType(this.evalChain(dot, n, [], MISSING), type);
    }
    switch (type) {
      case "bool":
        return n.kind === "bool" ? n.value : this.errorf(`expected bool; found ${nodeString(n)}`);
      case "int":
        return n.kind === "number" && n.isInt ? n.value : this.errorf(`expected integer; found ${nodeString(n)}`);
      case "float64":
        return n.kind === "number" && n.isFloat ? new GoFloat(n.value) : this.errorf(`expected float; found ${nodeString(n)}`);
      case "string":
        return n.kind === "string" ? n.text : this.errorf(`expected string; found ${nodeString(n)}`);
      case "interface {}":
      case "reflect.Value":
        return n.kind === "number" ? this.idealConstant(n) : n.kind === "string" ? n.text : n.value;
    }
    return this.errorf(`can't handle ${nodeString(n)} for arg of type ${type}`);
  }

  private validateType(value: unknown, type: GoParam | undefined): unknown {
    if (type === undefined) return value;
    if (value === undefined) return canBeNil(type) ? zeroValue(type) : this.errorf(`invalid value; expected ${type}`);
    if (type !== "reflect.Value" && type !== "interface {}" && !assignable(value, type)) {
      this.errorf(`wrong type for value; expected ${type}; got ${typeName(value)}`);
    }
    return value;
  }
}
