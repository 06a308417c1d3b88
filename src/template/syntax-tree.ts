/** The tree the parser builds and the executor walks, as in Go's text/template/parse. */
import { goQuote } from "./lex.js";

interface At {
  pos: number;
}
export interface ListNode extends At {
  kind: "list";
  nodes: Node[];
}
export interface ControlNode extends At {
  kind: "if" | "range" | "with";
  pipe: PipeNode;
  list: ListNode;
  elseList?: ListNode;
}
export interface TemplateNode extends At {
  kind: "template";
  name: string;
  pipe?: PipeNode;
}
export type Node =
  | ListNode
  | ControlNode
  | TemplateNode
  | (At & { kind: "text"; text: string })
  | (At & { kind: "action"; pipe: PipeNode })
  | (At & { kind: "break" | "continue" | "end" | "else" });
export interface PipeNode extends At {
  kind: "pipe";
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
export interface CommandNode extends At {
  kind: "command";
  args: Operand[];
}
export interface VariableNode extends At {
  kind: "variable";
  ident: string[];
}
export interface FieldNode extends At {
  kind: "field";
  ident: string[];
}
export interface ChainNode extends At {
  kind: "chain";
  node: Operand;
  fields: string[];
}
export interface NumberNode extends At {
  kind: "number";
  text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  value: number;
}
export type Operand =
  | PipeNode
  | VariableNode
  | FieldNode
  | ChainNode
  | NumberNode
  | (At & { kind: "identifier"; name: string })
  | (At & { kind: "string"; quoted: string; text: string })
  | (At & { kind: "bool"; value: boolean })
  | (At & { kind: "dot" | "nil" });

/** The parsed templates by name: the source itself under TEMPLATE_NAME, plus each `{{define}}` and `{{block}}`. */
export type Templates = Map<string, ListNode>;

/** A node written back as template source, as Go shows it in an error's `at <…>`. */
export function nodeString(n: Node | Operand | CommandNode): string {
  const parens = (o: Operand) => (o.kind === "pipe" ? `(${nodeString(o)})` : nodeString(o));
  switch (n.kind) {
    case "text":
      return n.text;
    case "action":
      return `{{${nodeString(n.pipe)}}}`;
    case "list":
      return n.nodes.map(nodeString).join("");
    case "if":
    case "range":
    case "with": {
      const otherwise = n.elseList ? `{{else}}${nodeString(n.elseList)}` : "";
      return `{{${n.kind} ${nodeString(n.pipe)}}}${nodeString(n.list)}${otherwise}{{end}}`;
    }
    case "break":
    case "continue":
    case "end":
    case "else":
      return `{{${n.kind}}}`;
    case "template":
      return `{{template ${goQuote(n.name)}${n.pipe ? ` ${nodeString(n.pipe)}` : ""}}}`;
    case "pipe": {
      const decl = n.decl.length > 0 ? `${n.decl.map(nodeString).join(", ")} := ` : "";
      return decl + n.cmds.map(nodeString).join(" | ");
    }
    case "command":
      return n.args.map(parens).join(" ");
    case "variable":
      return n.ident.join(".");
    case "field":
      return n.ident.map((f) => `.${f}`).join("");
    case "chain":
      return parens(n.node) + n.fields.map((f) => `.${f}`).join("");
    case "identifier":
      return n.name;
    case "number":
      return n.text;
    case "string":
      return n.quoted;
    case "bool":
      return String(n.value);
    case "dot":
      return ".";
    case "nil":
      return "nil";
  }
}
