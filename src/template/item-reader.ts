/** The parser's cursor over the lexer's items, and its errors in Go's wording and at Go's line. */
import { KEYWORD_ITEMS, TEMPLATE_NAME, TemplateError, goQuote, type Item, type ItemType } from "./lex.js";

export class ItemReader {
  protected i = 0;
  /** The furthest item read: Go reports a parse error at the line of the last item its lexer produced. */
  private furthest = 0;
  protected actionLine = 0;

  constructor(protected readonly items: Item[]) {}

  protected next(): Item {
    const item = this.items[Math.min(this.i++, this.items.length - 1)]!;
    this.furthest = Math.max(this.furthest, this.i - 1);
    return item;
  }
  protected peek(): Item {
    const item = this.next();
    this.i--;
    return item;
  }
  protected nextNonSpace(): Item {
    let item = this.next();
    while (item.type === "space") item = this.next();
    return item;
  }
  /** Like Go's, leaves the spaces before the item consumed. */
  protected peekNonSpace(): Item {
    const item = this.nextNonSpace();
    this.i--;
    return item;
  }
  protected expect(type: ItemType, context: string): Item {
    const item = this.nextNonSpace();
    if (item.type !== type) this.unexpected(item, context);
    return item;
  }

  protected errorf(message: string): never {
    const line = this.items[Math.min(this.furthest, this.items.length - 1)]!.line;
    throw new TemplateError(`template: ${TEMPLATE_NAME}:${line}: ${message}`);
  }
  protected unexpected(item: Item, context: string): never {
    if (item.type !== "error") this.errorf(`unexpected ${itemString(item)} in ${context}`);
    let extra = "";
    if (this.actionLine !== 0 && this.actionLine !== item.line) {
      extra = ` in action started at ${TEMPLATE_NAME}:${this.actionLine}`;
      if (item.val.endsWith(" action")) extra = extra.slice(" in action".length);
    }
    this.errorf(item.val + extra);
  }
}

function itemString(item: Item): string {
  if (item.type === "eof") return "EOF";
  if (KEYWORD_ITEMS.has(item.type)) return `<${item.val}>`;
  const chars = [...item.val];
  return chars.length > 10 ? `${goQuote(chars.slice(0, 10).join(""))}...` : goQuote(item.val);
}
