/**
 * The parser of Go's text/template (Go 1.19): items from the lexer → a tree per template name.
 * It follows Go's grammar and its checks, so a template Go rejects is rejected here with the same message.
 * This file holds the template's structure: definitions, {{if}}/{{range}}/{{with}}, {{template}} and {{block}}.
 */
import { Lexer, TEMPLATE_NAME, goQuote } from "./lex.js";
import { TEMPLATE_LIMITS } from "./limits.js";
import { PipelineParser } from "./pipeline-parser.js";
import { nodeString, type ControlNode, type ListNode, type Node, type PipeNode, type TemplateNode, type Templates } from "./syntax-tree.js";

export function parseTemplate(source: string, functionNames: ReadonlySet<string>): Templates {
  // A function map may take the names break and continue, which then stop being keywords.
  const keywordOK = (word: string) => !((word === "break" || word === "continue") && functionNames.has(word));
  return new Parser(new Lexer(source, keywordOK).run(), functionNames).parse();
}

class Parser extends PipelineParser {
  private rangeDepth = 0;
  private readonly templates: Templates = new Map();

  parse(): Templates {
    const root: ListNode = { kind: "list", pos: this.peek().pos, nodes: [] };
    while (this.peek().type !== "eof") {
      if (this.peek().type === "leftDelim") {
        const at = this.i;
        this.next();
        if (this.nextNonSpace().type === "define") {
          this.parseDefinition();
          continue;
        }
        this.i = at;
      }
      const node = this.textOrAction();
      if (node.kind === "end" || node.kind === "else") this.errorf(`unexpected ${nodeString(node)}`);
      root.nodes.push(node);
    }
    this.add(TEMPLATE_NAME, root);
    return this.templates;
  }

  /** A `{{define}}` or `{{block}}` body: its own variables, outside any range. */
  private subTemplate(context: string): ListNode {
    const [vars, rangeDepth] = [this.vars, this.rangeDepth];
    [this.vars, this.rangeDepth] = [["$"], 0];
    const [list, end] = this.itemList();
    if (end.kind !== "end") this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    [this.vars, this.rangeDepth] = [vars, rangeDepth];
    return list;
  }

  private parseDefinition(): void {
    const context = "define clause";
    const name = this.nextNonSpace();
    if (name.type !== "string" && name.type !== "rawString") this.unexpected(name, context);
    this.expect("rightDelim", context);
    this.add(this.unquote(name.val), this.subTemplate(context));
  }

  private add(name: string, list: ListNode): void {
    const existing = this.templates.get(name);
    if (existing && !isEmptyTree(existing)) {
      if (!isEmptyTree(list)) this.errorf(`template: multiple definition of template ${goQuote(name)}`);
      return;
    }
    this.templates.set(name, list);
  }

  private itemList(): [ListNode, Node] {
    const list: ListNode = { kind: "list", pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== "eof") {
      const node = this.textOrAction();
      if (node.kind === "end" || node.kind === "else") return [list, node];
      list.nodes.push(node);
    }
    this.errorf("unexpected EOF");
  }

  private textOrAction(): Node {
    const item = this.nextNonSpace();
    if (item.type === "text") return { kind: "text", pos: item.pos, text: item.val };
    if (item.type !== "leftDelim") this.unexpected(item, "input");
    this.actionLine = item.line;
    try {
      return this.action();
    } finally {
      this.actionLine = 0;
    }
  }

  private action(): Node {
    const item = this.nextNonSpace();
    switch (item.type) {
      case "block":
        return this.templateControl("block clause");
      case "break":
      case "continue":
        return this.jumpControl(item.type);
      case "else":
        return this.elseControl();
      case "end":
        return { kind: "end", pos: this.expect("rightDelim", "end").pos };
      case "if":
      case "range":
      case "with":
        return this.parseControl(item.type);
      case "template":
        return this.templateControl("template clause");
    }
    this.i--;
    return { kind: "action", pos: this.peek().pos, pipe: this.pipeline("command", "rightDelim") };
  }

  private jumpControl(kind: "break" | "continue"): Node {
    const at = this.items[this.i - 1]!.pos;
    const item = this.nextNonSpace();
    if (item.type !== "rightDelim") this.unexpected(item, `{{${kind}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${kind}}} outside {{range}}`);
    return { kind, pos: at };
  }

  /** `{{else if …}}` leaves the `if` pending, so that the else branch holds one nested if needing no second {{end}}. */
  private elseControl(): Node {
    const peek = this.peekNonSpace();
    if (peek.type === "if") return { kind: "else", pos: peek.pos };
    return { kind: "else", pos: this.expect("rightDelim", "else").pos };
  }

  private parseControl(kind: "if" | "range" | "with"): ControlNode {
    const varsBefore = this.vars.length;
    this.enter(`more than ${TEMPLATE_LIMITS.nesting} nested actions`);
    try {
      const pipe = this.pipeline(kind, "rightDelim");
      if (kind === "range") this.rangeDepth++;
      const [list, firstNext] = this.itemList();
      let next = firstNext;
      if (kind === "range") this.rangeDepth--;
      let elseList: ListNode | undefined;
      if (next.kind === "else" && kind === "if" && this.peek().type === "if") {
        this.next();
        elseList = { kind: "list", pos: next.pos, nodes: [this.parseControl("if")] };
      } else if (next.kind === "else") {
        [elseList, next] = this.itemList();
        if (next.kind !== "end") this.errorf(`expected end; found ${nodeString(next)}`);
      }
      return { kind, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = varsBefore;
      this.nesting--;
    }
  }

  /** `{{template "name" pipeline}}`, or `{{block "name" pipeline}}body{{end}}` which also defines "name". */
  private templateControl(context: "template clause" | "block clause"): TemplateNode {
    const item = this.nextNonSpace();
    if (item.type !== "string" && item.type !== "rawString") this.unexpected(item, context);
    const name = this.unquote(item.val);
    let pipe: PipeNode | undefined;
    if (context === "block clause" || this.nextNonSpace().type !== "rightDelim") {
      if (context === "template clause") this.i--;
      pipe = this.pipeline(context, "rightDelim");
    }
    if (context === "block clause") this.add(name, this.subTemplate(context));
    return { kind: "template", pos: item.pos, name, pipe };
  }
}

/** Whether a template holds nothing but space: such a one may be redefined. */
function isEmptyTree(list: ListNode): boolean {
  return list.nodes.every((n) => n.kind === "text" && n.text.trim() === "");
}
