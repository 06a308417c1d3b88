import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Lexer } from "../../../src/template/lex.js";
import { TEMPLATE_LIMITS, TemplateError, goContainerView, renderTemplate, tagFunctions } from "../../../src/template/template.js";

const view = goContainerView({
  Id: "e20f9c1a76565d62ae24a3bb877b17b862b6eab94f4e95a0e07ccf25087aaf4f",
  Config: { Hostname: "web-1", Env: ["ENVIRONMENT=test", "SERVICE_8105_NAME=foo"], Labels: { env: "prod" } },
});
const functions = tagFunctions({});
const render = (source: string) => renderTemplate(source, view, functions);

/** The message of the TemplateError a template raises: every failure is one, whatever the template did. */
function failure(source: string): string {
  try {
    render(source);
  } catch (e) {
    assert.ok(e instanceof TemplateError, `not a TemplateError: ${String(e)}`);
    return e.message;
  }
  return assert.fail(`${source.slice(0, 80)} rendered without error`);
}

const DOUBLING =
  '{{define "a"}}{{if lt (len .) 40}}{{template "a" (printf "%sx" .)}}{{template "a" (printf "%sx" .)}}{{end}}{{end}}{{template "a" ""}}';
const hundred = "x".repeat(100);
const NESTED_RANGES = `{{range split "" "${hundred}"}}`.repeat(4) + "{{end}}".repeat(4);
const STEPS = new RegExp(`stopped after ${TEMPLATE_LIMITS.steps} steps, the most a template may take$`);
const WORK = new RegExp(`stopped after ${TEMPLATE_LIMITS.work} characters of work, the most a template may do$`);
const VALUE = new RegExp(`more than the ${TEMPLATE_LIMITS.valueChars} a value may hold$`);

describe("Go's fmt caps on a width or precision", () => {
  test("a width or precision of more than 1e6 in the format ends it with %!(NOVERB), as Go prints it", () => {
    assert.equal(render('{{printf "%0200000000d" 1}}'), "%!(NOVERB)%!(EXTRA int=1)");
    assert.equal(render('{{printf "%.0300000000d" 1}}'), "%!(NOVERB)%!(EXTRA int=1)");
    assert.equal(render('{{printf "a%200000000sb" "x"}}'), "a%!(NOVERB)%!(EXTRA string=x)");
  });

  test("so the documented crash becomes a split of that text", () => {
    assert.equal(render('{{split "" (printf "%200000000s" "") | len}}'), String("%!(NOVERB)%!(EXTRA string=)".length));
  });

  test("a width or precision from an argument over 1e6 is BADWIDTH or BADPREC", () => {
    assert.equal(render('{{printf "%*d" 100000000 7}}'), "%!(BADWIDTH)7");
    assert.equal(render('{{printf "%.*d" 100000000 7}}'), "%!(BADPREC)7");
  });

  test("a width of 1e6 is still Go's: a million characters", () => {
    assert.equal(render('{{printf "%1000000d" 1 | len}}'), "1000000");
  });

  test("a precision that only shortens a string is no growth", () => {
    assert.equal(render('{{printf "%.2000000s|%.3s" "abc" "abcdef"}}'), "abc|abc");
    assert.match(failure('{{printf "%.2000000d" 1}}'), /error calling printf: printf output over 1048576 characters/);
  });

  test("many wide verbs stop at the value cap instead of filling memory", () => {
    assert.match(failure(`{{printf "${"%999999d".repeat(2000)}" 1}}`), /error calling printf: printf output over 1048576 characters/);
  });
});

describe("the step budget", () => {
  test("2^40 {{template}} calls at depth 40 stop at the budget, naming the template they were in", () => {
    assert.match(failure(DOUBLING), /^template: tags:1:\d+: executing "a" at <.*>: stopped after 100000 steps/);
  });

  test("four nested ranges over split stop at the budget", () => {
    assert.match(failure(NESTED_RANGES), STEPS);
  });

  test("range iterations with nothing in them count", () => {
    assert.match(
      failure(`{{range split "" "${hundred}"}}{{range split "" "${hundred}"}}{{range split "" "${hundred}"}}{{end}}{{end}}{{end}}`),
      STEPS,
    );
  });

  test("a template within the budget renders", () => {
    assert.equal(render(`{{range split "" "${hundred}"}}{{range split "" "${hundred}"}}{{end}}{{end}}done`), "done");
  });
});

describe("the output cap", () => {
  test(`printing more than ${TEMPLATE_LIMITS.outputBytes} bytes fails`, () => {
    assert.match(failure('{{range split "" (printf "%70000s" "")}}x{{end}}'), /output over 65536 bytes, the most a template may print$/);
  });

  test("exactly the cap renders", () => {
    assert.equal(render('{{range split "" (printf "%65536s" "")}}x{{end}}').length, 65536);
  });
});

describe("the source cap and the lexer", () => {
  test("96 KB of {{1}} lines is refused for its size, before it is lexed", () => {
    assert.match(failure("{{1}}\n".repeat(16384)), /^template: tags: 98304 bytes of template, more than the 65536 allowed$/);
  });

  test("60 KB of {{1}} lines renders", () => {
    assert.equal(render("{{1}}\n".repeat(10000)), "1\n".repeat(10000));
  });

  test("the lexer numbers lines by counting as it goes: the last of 16384 lines is line 16384", () => {
    const items = new Lexer("{{1 -}}\n  ".repeat(16384), () => true).run();
    const numbers = items.filter((item) => item.type === "number");
    assert.equal(numbers.length, 16384);
    assert.deepEqual([numbers[0]!.line, numbers[1]!.line, numbers.at(-1)!.line], [1, 2, 16384]);
  });

  test("a parse error deep in a long template reports its line", () => {
    assert.equal(failure(`${"{{1}}\n".repeat(5000)}{{nope}}`), 'template: tags:5001: function "nope" not defined');
  });

  test("nesting deeper than 1000 parentheses or actions fails to parse", () => {
    assert.equal(failure(`{{${"(".repeat(1001)}1${")".repeat(1001)}}}`), "template: tags:1: max expression depth exceeded");
    assert.equal(failure(`${"{{if 1}}".repeat(1001)}${"{{end}}".repeat(1001)}`), "template: tags:1: more than 1000 nested actions");
    assert.equal(render(`${"{{if 1}}".repeat(100)}ok${"{{end}}".repeat(100)}`), "ok");
  });
});

describe("values that could grow without bound", () => {
  test("a string doubled in a variable stops at the value cap", () => {
    const source = `{{$x := "a"}}{{range split "" "${"x".repeat(40)}"}}{{$x = printf "%s%s" $x $x}}{{end}}{{len $x}}`;
    assert.match(failure(source), /error calling printf: printf output over 1048576 characters/);
  });

  test("join and replace are refused before they build a result over the cap", () => {
    assert.match(failure('{{join (printf "%60000s" "") (split "" (printf "%60000s" ""))}}'), VALUE);
    assert.match(failure('{{replace -1 "" (printf "%60000s" "") (printf "%60000s" "")}}'), VALUE);
    assert.match(failure('{{replace -1 " " (printf "%60000s" "") (printf "%60000s" "")}}'), VALUE);
  });

  test("split is refused before it makes more elements than the cap allows", () => {
    assert.match(failure('{{split "" (printf "%600000s" "") | len}}'), /error calling split: result of 1200000 characters/);
    assert.equal(render('{{split "" (printf "%500000s" "") | len}}'), "500000");
  });

  test("work on big values adds up to the work budget", () => {
    const source = `{{$s := printf "%1000000s" ""}}{{range split "" "${"x".repeat(20)}"}}{{len $s}}{{end}}`;
    assert.match(failure(source), WORK);
  });

  test("recursion deeper than the stack holds fails that render with a TemplateError, not a crash", () => {
    const source = `{{define "a"}}${"{{if 1}}".repeat(400)}{{template "a"}}${"{{end}}".repeat(400)}{{end}}{{template "a"}}`;
    assert.match(failure(source), /^template: tags/);
  });
});

describe("regular expressions run in linear time, with Go's RE2 syntax", () => {
  const elements = (text: string) => `(split "," "${text}")`;

  test("a pattern that backtracks exponentially in JavaScript answers at once", () => {
    const source = `{{matchFirstElement "(a+)+$" (split "," (printf "%s!" (printf "%30000s" "" | replace -1 " " "a")))}}|`;
    assert.equal(render(source), "|");
  });

  test("polynomial patterns over long text end at the work budget", () => {
    const source = '{{range split "" (printf "%1000s" "")}}{{matchFirstElement ".*.*.*=x" (split "," (printf "%100000s" ""))}}{{end}}';
    assert.match(failure(source), WORK);
  });

  test("RE2's meaning: $ is the end of the text, . is not a newline, classes and flags", () => {
    assert.equal(
      render(`{{matchAllElements "(?i)^service_\\\\d+_name=" ${elements("SERVICE_8105_NAME=x,service_1_name=y,SERVICE_X_NAME=z")}}}`),
      "[SERVICE_8105_NAME=x service_1_name=y]",
    );
    assert.equal(
      render('{{matchFirstElement "x$" (split "," (printf "x\\n"))}}|{{matchFirstElement "(?m)x$" (split "," (printf "x\\n"))}}'),
      "|x\n",
    );
    assert.equal(render(`{{matchAllElements "^[[:alpha:]]+\\\\b" ${elements("abc def,123,x")}}}`), "[abc def x]");
    assert.equal(render(`{{matchAllElements "^\\\\pL+$" ${elements("héllo,h3llo")}}}`), "[héllo]");
    assert.equal(render(`{{matchAllElements "^a{2,3}$" ${elements("a,aa,aaa,aaaa")}}}`), "[aa aaa]");
    assert.equal(render(`{{matchFirstElement "^(?P<k>[A-Z]+)=(te|pro)st?$" .Config.Env}}`), "ENVIRONMENT=test");
  });

  test("a negated class matches a newline with or without (?s), as Go's ClassNL has it; . does only with (?s)", () => {
    const newline = '(split "," (printf "\\n"))';
    assert.equal(render(`[{{matchFirstElement "^[^a]$" ${newline}}}]`), "[\n]");
    assert.equal(render(`[{{matchFirstElement "(?s)^[^a]$" ${newline}}}]`), "[\n]");
    assert.equal(render(`[{{matchFirstElement "^.$" ${newline}}}]`), "[]");
    assert.equal(render(`[{{matchFirstElement "(?s)^.$" ${newline}}}]`), "[\n]");
  });

  test("patterns Go refuses are refused with Go's words", () => {
    const refused = (pattern: string) =>
      failure(`{{matchFirstElement "${pattern}" .Config.Env}}`).replace(/^.*error calling matchFirstElement: /, "");
    assert.equal(refused("a**"), "regexp: Compile(`a**`): error parsing regexp: invalid nested repetition operator: `**`");
    assert.equal(refused("a{1001}"), "regexp: Compile(`a{1001}`): error parsing regexp: invalid repeat count: `{1001}`");
    assert.equal(refused("(?=a)"), "regexp: Compile(`(?=a)`): error parsing regexp: invalid or unsupported Perl syntax: `(?=`");
    assert.equal(refused("[a"), "regexp: Compile(`[a`): error parsing regexp: missing closing ]: `[a`");
    assert.equal(refused("a)"), "regexp: Compile(`a)`): error parsing regexp: unexpected ): `a)`");
    assert.equal(refused("\\\\1"), "regexp: Compile(`\\1`): error parsing regexp: invalid escape sequence: `\\1`");
  });

  test("compiling large patterns counts as work: distinct ones in a loop end at the work budget", () => {
    const source =
      '{{range $i, $c := split "" (printf "%100000s" "")}}{{matchFirstElement (printf "((a{99}){99})|%d" $i) $.Config.Env}}{{end}}';
    assert.match(failure(source), WORK);
  });

  test("a pattern too large to compile within the state limit is refused", () => {
    assert.match(failure('{{matchFirstElement "((a{1000}){1000})" .Config.Env}}'), /error parsing regexp: expression too large/);
  });
});
