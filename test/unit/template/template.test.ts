import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TemplateError, goContainerView, renderTemplate, tagFunctions, type TemplateFunctions } from "../../../src/template/template.js";
import { container } from "../service/fixtures.js";

/** A `docker inspect` document as Docker 24 returns it, trimmed to what the templates below read. */
const INSPECT = {
  Id: "e20f9c1a76565d62ae24a3bb877b17b862b6eab94f4e95a0e07ccf25087aaf4f",
  Created: "2024-05-01T10:00:00.123456789Z",
  Path: "nginx",
  Args: ["-g", "daemon off;"],
  State: {
    Status: "running",
    Running: true,
    Pid: 4242,
    ExitCode: 0,
    StartedAt: "2024-05-01T10:00:01Z",
    FinishedAt: "0001-01-01T00:00:00Z",
  },
  Image: "sha256:4f6c4c1b0b8e",
  Name: "/web.1",
  RestartCount: 0,
  HostConfig: { NetworkMode: "bridge", Memory: 0 },
  Mounts: [{ Type: "bind", Source: "/srv", Destination: "/usr/share/nginx/html", Mode: "", RW: false, Propagation: "rprivate" }],
  Config: {
    Hostname: "e20f9c1a7656",
    User: "",
    ExposedPorts: { "80/tcp": {} },
    Env: ["ENV_NAME=test", "SERVICE_NAME=foo", "SERVICE_PORT=80"],
    Cmd: ["nginx", "-g", "daemon off;"],
    Image: "registry.example.com/team/nginx:1.25",
    Labels: {
      env: "prod",
      "com.amazonaws.ecs.task-arn": "arn:aws:ecs:region:xxxxxxxxxxxx:task/368f4403-0ee4-4f4c-b7a5-be50c57db5cf",
      "com.delairtech.test.registrator": "test_local",
    },
  },
  NetworkSettings: {
    IPAddress: "172.17.0.2",
    Ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }] },
    Networks: { bridge: { IPAddress: "172.17.0.2", Gateway: "172.17.0.1", NetworkID: "n1" } },
  },
};

const operatorFunctions = tagFunctions({});
const view = goContainerView(INSPECT);
/** What v7.4 renders for `-tags` on INSPECT. */
const render = (source: string, functions: TemplateFunctions = operatorFunctions) => renderTemplate(source, view, functions);
const renderWith = (source: string, data: unknown) => renderTemplate(source, data, operatorFunctions);
/** The message of the TemplateError a template raises. */
function failure(source: string, data: unknown = view, functions: TemplateFunctions = operatorFunctions): string {
  try {
    renderTemplate(source, data, functions);
  } catch (e) {
    assert.ok(e instanceof TemplateError, `not a TemplateError: ${String(e)}`);
    return e.message;
  }
  return assert.fail(`${source} rendered without error`);
}

describe("the examples of v7.4's -tags documentation (gliderlabs/registrator#677) and the brief", () => {
  test("static tags pass through unchanged", () => {
    assert.equal(render("test,service,backend"), "test,service,backend");
  });

  test("container_id={{ .ID }}", () => {
    assert.equal(render("container_id={{ .ID }}"), `container_id=${INSPECT.Id}`);
  });

  test("strSlice .ID 0 12 gives the short container id", () => {
    assert.equal(render("{{ strSlice .ID 0 12 }}"), "e20f9c1a7656");
  });

  test("E2: mIndex on a label with dots, piped into splitIndex -1", () => {
    const source = `ecs_task_id={{ mIndex "com.amazonaws.ecs.task-arn" .Config.Labels | splitIndex -1 "/" }}`;
    assert.equal(render(source), "ecs_task_id=368f4403-0ee4-4f4c-b7a5-be50c57db5cf");
  });

  test("E3: every env var as a lower-case tag, the first match, all matches", () => {
    assert.equal(render(`{{ join "," .Config.Env | toLower }}`), "env_name=test,service_name=foo,service_port=80");
    assert.equal(render(`{{ matchFirstElement "^SERVICE_NAME=" .Config.Env | toLower }}`), "service_name=foo");
    assert.equal(render(`{{ matchAllElements "^SERVICE_" .Config.Env | join "," | toLower }}`), "service_name=foo,service_port=80");
  });

  test("the hostname, a label by index, and a static tag", () => {
    assert.equal(render(`{{.Config.Hostname}},{{index .Config.Labels "env"}},static`), "e20f9c1a7656,prod,static");
  });

  test("the tags-template compose example, and its invalid twin that lacks a }}", () => {
    const valid = `com.delairtech.test.registrator={{index .Config.Labels "com.delairtech.test.registrator"}},{{.ID}}`;
    assert.equal(render(valid), `com.delairtech.test.registrator=test_local,${INSPECT.Id}`);
    const invalid = `com.delairtech.test.registrator={{index .Config.Labels "com.delairtech.test.registrator",{{.ID}}`;
    assert.equal(failure(invalid), `template: tags:1: unexpected "," in operand`);
  });
});

describe("the container as go-dockerclient names it", () => {
  test("Id is .ID, a port binding's HostIp is .HostIP, the rest keep Docker's names", () => {
    assert.equal(render("{{.ID}}"), INSPECT.Id);
    assert.equal(
      render("{{.Name}} {{.Path}} {{.Image}} {{.Config.Image}}"),
      "/web.1 nginx sha256:4f6c4c1b0b8e registry.example.com/team/nginx:1.25",
    );
    assert.equal(render("{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Networks.bridge.Gateway}}"), "172.17.0.2 172.17.0.1");
    assert.equal(render(`{{range .NetworkSettings.Ports}}{{range .}}{{.HostIP}}:{{.HostPort}}{{end}}{{end}}`), "0.0.0.0:8080");
    assert.equal(render("{{.HostConfig.NetworkMode}}"), "bridge");
  });

  test("ints print as ints, bools as bools, times as Go prints a time.Time", () => {
    assert.equal(render("{{.State.Pid}} {{.State.ExitCode}} {{.RestartCount}} {{.State.Running}}"), "4242 0 0 true");
    assert.equal(render("{{.Created}}"), "2024-05-01 10:00:00.123456789 +0000 UTC");
    assert.equal(render("{{.State.StartedAt}}|{{.State.FinishedAt}}"), "2024-05-01 10:00:01 +0000 UTC|0001-01-01 00:00:00 +0000 UTC");
  });

  test("a field the inspect leaves out has Go's zero value", () => {
    assert.equal(
      render("[{{.Config.Domainname}}] {{.State.OOMKilled}} {{.Config.StopTimeout}} {{.Config.Entrypoint}} {{.Volumes}}"),
      "[] false 0 [] map[]",
    );
  });

  test("slices, maps sorted by key and structs print as fmt's %v", () => {
    assert.equal(render("{{.Config.Env}}"), "[ENV_NAME=test SERVICE_NAME=foo SERVICE_PORT=80]");
    assert.equal(
      renderTemplate("{{.Config.Labels}}", goContainerView(container({ labels: { b: "2", a: "1" } })), operatorFunctions),
      "map[a:1 b:2]",
    );
    assert.equal(render("{{.NetworkSettings.Ports}} {{.Config.ExposedPorts}}"), "map[80/tcp:[{0.0.0.0 8080}]] map[80/tcp:{}]");
    assert.equal(render("{{.Mounts}}"), "[{ /srv /usr/share/nginx/html   false}]");
  });

  test("the fixtures' containers render too", () => {
    const data = goContainerView(container({ name: "redis.0", publish: ["10000:6379"], env: ["SERVICE_TAGS=master"] }));
    assert.equal(
      renderTemplate(`{{.Name}} {{index .Config.Env 0}} {{.Config.Image}}`, data, operatorFunctions),
      "/redis.0 SERVICE_TAGS=master dockerfile/redis",
    );
  });
});

describe("v7.4's functions", () => {
  test("strSlice: s[a:], s[:b], s[a:b] in bytes; an index past the end gives s back; a > b gives s[a:]", () => {
    assert.equal(render(`{{strSlice "abcdef" 2}}|{{strSlice "abcdef" 0 2}}|{{strSlice "abcdef" 1 3}}`), "cdef|ab|bc");
    assert.equal(
      render(`{{strSlice "abcdef" 9}}|{{strSlice "abcdef" 1 9}}|{{strSlice "abcdef" 4 2}}|{{strSlice "abc"}}`),
      "abcdef|abcdef|ef|abc",
    );
    assert.equal(
      failure(`{{strSlice "abc" -1}}`),
      `template: tags:1:2: executing "tags" at <strSlice "abc" -1>: error calling strSlice: runtime error: slice bounds out of range [-1:]`,
    );
  });

  test("sIndex: an element of a slice, negative from the end, clamped to the ends", () => {
    assert.equal(
      render("{{sIndex 0 .Config.Env}}|{{sIndex -1 .Config.Env}}|{{sIndex 9 .Config.Env}}|{{sIndex -9 .Config.Env}}"),
      "ENV_NAME=test|SERVICE_PORT=80|SERVICE_PORT=80|ENV_NAME=test",
    );
    assert.equal(
      failure("{{sIndex 0 .Config.Shell}}"),
      `template: tags:1:2: executing "tags" at <sIndex 0 .Config.Shell>: error calling sIndex: runtime error: index out of range [-1]`,
    );
  });

  test("mIndex: a map value by key, empty when missing", () => {
    assert.equal(render(`[{{mIndex "env" .Config.Labels}}] [{{mIndex "nope" .Config.Labels}}]`), "[prod] []");
  });

  test("toUpper and toLower map each character alone", () => {
    assert.equal(render(`{{toUpper "straße"}} {{toLower "ÀB"}}`), "STRAßE àb");
  });

  test("replace is strings.Replace with the count first: n < 0 replaces all, an empty old inserts", () => {
    assert.equal(
      render(`{{replace 1 "a" "b" "aaa"}} {{replace -1 "a" "b" "aaa"}} {{replace 0 "a" "b" "aaa"}} {{replace 2 "" "-" "ab"}}`),
      "baa bbb aaa -a-b",
    );
    assert.equal(render(`{{.Config.Image | replace -1 "/" "_"}}`), "registry.example.com_team_nginx:1.25");
  });

  test("join, split and splitIndex take the separator first", () => {
    assert.equal(
      render(`{{join "+" .Args}}|{{split ":" .Config.Image}}|{{split "" "abc"}}`),
      "-g+daemon off;|[registry.example.com/team/nginx 1.25]|[a b c]",
    );
    assert.equal(
      render(`{{.Config.Image | split ":" | sIndex 0}} {{splitIndex 1 ":" .Config.Image}} {{splitIndex -1 "/" "a/b/c"}}`),
      "registry.example.com/team/nginx 1.25 c",
    );
  });

  test("matchFirstElement and matchAllElements match Go regexps; no match is empty", () => {
    assert.equal(render(`[{{matchFirstElement "^NOPE" .Config.Env}}] {{matchAllElements "^NOPE" .Config.Env}}`), "[] []");
    // Go strings in the template, so a regexp's backslash is written twice.
    assert.equal(render(String.raw`{{matchFirstElement "(?i)^service_port=(?P<port>\\d+)$" .Config.Env}}`), "SERVICE_PORT=80");
    assert.equal(render(String.raw`{{matchAllElements "[[:digit:]]\\z" .Config.Env}}`), "[SERVICE_PORT=80]");
    assert.match(
      failure(`{{matchFirstElement "(" .Config.Env}}`),
      /^template: tags:1:2: executing "tags" at <matchFirstElement "\(" \.Config\.Env>: error calling matchFirstElement: regexp: Compile\(`\(`\): error parsing regexp: /,
    );
  });

  const body = `{"instance": {"id": "i-0abc", "tags": ["a", {"zone": "eu-1"}], "port": 8080, "note": "tab\\there"}}`;
  const withHttp = tagFunctions({ httpGet: (url) => (url === "http://meta/doc" ? body : "") });

  test("httpGet gives the body as bytes, which jsonParse reads by a :: key path", () => {
    assert.equal(render(`{{jsonParse (httpGet "http://meta/doc") "instance::id"}}`, withHttp), "i-0abc");
    assert.equal(render(`{{jsonParse (httpGet "http://meta/doc") "instance::port"}}`, withHttp), "8080");
    assert.equal(render(`{{jsonParse (httpGet "http://meta/doc") "instance::tags::[1]::zone"}}`, withHttp), "eu-1");
    assert.equal(render(`{{jsonParse (httpGet "http://meta/doc") "instance::tags"}}`, withHttp), `["a", {"zone": "eu-1"}]`);
    assert.equal(render(`{{jsonParse (httpGet "http://meta/doc") "instance::note"}}`, withHttp), "tab\\there");
    assert.equal(render(`[{{jsonParse (httpGet "http://meta/doc") "instance::nope"}}]`, withHttp), "[]");
    assert.equal(render(`{{printf "%s" (httpGet "http://meta/x")}}|{{httpGet "http://meta/x"}}`, withHttp), "|[]");
  });

  test("a failed httpGet is an empty body, as v7.4 logs and carries on", () => {
    const failing = tagFunctions({
      httpGet: () => {
        throw new Error("connection refused");
      },
    });
    assert.equal(render(`[{{jsonParse (httpGet "http://meta/doc") "instance::id"}}]`, failing), "[]");
  });

  test("without an httpGet (a container's SERVICE_TAGS) the function is not defined", () => {
    assert.equal(failure(`{{httpGet "http://meta/doc"}}`), `template: tags:1: function "httpGet" not defined`);
  });

  test("jsonParse wants the bytes httpGet gives, not a string; they come first, so httpGet cannot be piped into it", () => {
    assert.equal(
      failure(`{{jsonParse "{}" "a"}}`),
      `template: tags:1:12: executing "tags" at <"{}">: can't handle "{}" for arg of type []uint8`,
    );
    assert.equal(
      failure(`{{httpGet "http://meta/doc" | jsonParse "instance::port"}}`, view, withHttp),
      `template: tags:1:40: executing "tags" at <"instance::port">: can't handle "instance::port" for arg of type []uint8`,
    );
  });
});

describe("pipelines", () => {
  test("the piped value is the last argument", () => {
    assert.equal(render(`{{"a" | printf "%s-%s" "b"}}`), "b-a");
    assert.equal(render(`{{.Config.Labels | mIndex "env" | toUpper | printf "env=%s"}}`), "env=PROD");
  });

  test("a parenthesised pipeline is one argument, and fields chain off it", () => {
    assert.equal(render(`{{printf "%s/%s" (index .Config.Env 1) (.Config.Image | split ":" | sIndex -1)}}`), "SERVICE_NAME=foo/1.25");
    assert.equal(render(`{{(index .NetworkSettings.Networks "bridge").IPAddress}}`), "172.17.0.2");
  });

  test("a literal cannot take arguments or come after a pipe", () => {
    assert.equal(failure("{{1 2}}"), `template: tags:1:2: executing "tags" at <1>: can't give argument to non-function 1`);
    assert.equal(failure(`{{"a" | "b"}}`), "template: tags:1: non executable command in pipeline stage 2");
  });
});

describe("if, else if, else, with and range", () => {
  test("if and else if pick the first true branch", () => {
    const source = `{{if eq .Config.Labels.env "dev"}}dev{{else if eq .Config.Labels.env "prod" "staging"}}live{{else}}other{{end}}`;
    assert.equal(render(source), "live");
  });

  test("Go's truth: empty string, 0, false, nil and empty slices and maps are false; structs are true", () => {
    const data = { s: "", z: 0, f: 0.5, b: false, n: null, e: [], m: {}, full: ["x"] };
    assert.equal(
      renderWith(
        `{{if .s}}1{{end}}{{if .z}}2{{end}}{{if .b}}3{{end}}{{if .n}}4{{end}}{{if .e}}5{{end}}{{if .m}}6{{end}}{{if .nope}}7{{end}}|{{if .f}}f{{end}}{{if .full}}full{{end}}`,
        data,
      ),
      "|ffull",
    );
    assert.equal(
      render(`{{if .State}}struct{{end}} {{if .State.Health}}health{{end}} {{if .Node}}node{{else}}no node{{end}}`),
      "struct health no node",
    );
  });

  test("with sets dot, and has an else", () => {
    assert.equal(render(`{{with .Config.Labels.env}}env={{.}}{{end}} {{with .Config.Labels.nope}}x{{else}}none{{end}}`), "env=prod none");
  });

  test("range over a slice with index and element, and over a map in key order", () => {
    assert.equal(render(`{{range $i, $e := .Args}}{{$i}}:{{$e}};{{end}}`), "0:-g;1:daemon off;;");
    assert.equal(
      render(`{{range $k, $v := .Config.Labels}}{{$k}} {{end}}`),
      "com.amazonaws.ecs.task-arn com.delairtech.test.registrator env ",
    );
    assert.equal(render(`{{range .Config.Env}}<{{.}}>{{end}}`), "<ENV_NAME=test><SERVICE_NAME=foo><SERVICE_PORT=80>");
  });

  test("range's else runs for an empty or missing collection", () => {
    assert.equal(
      render(`{{range .Config.Shell}}x{{else}}empty{{end}} {{range .Config.Labels.nope}}x{{else}}missing{{end}}`),
      "empty missing",
    );
  });

  test("break and continue", () => {
    assert.equal(render(`{{range .Config.Env}}{{if eq . "ENV_NAME=test"}}{{continue}}{{end}}{{.}}{{break}}{{end}}`), "SERVICE_NAME=foo");
  });

  test("range cannot iterate over a number or a struct", () => {
    assert.equal(failure("{{range 3}}{{end}}"), `template: tags:1:8: executing "tags" at <3>: range can't iterate over 3`);
  });
});

describe("variables", () => {
  test(":= declares, = assigns, and $ is the data everywhere", () => {
    assert.equal(render(`{{$n := "a"}}{{$n}}{{$n = "b"}}{{$n}} {{range .Args}}{{$.Name}}{{end}}`), "ab /web.1/web.1");
    assert.equal(render(`{{with $host := .Config.Hostname}}{{$host}}{{end}}`), "e20f9c1a7656");
  });

  test("a variable lives until the end of its block", () => {
    assert.equal(failure(`{{if true}}{{$x := 1}}{{end}}{{$x}}`), `template: tags:1: undefined variable "$x"`);
  });

  test("field chains on a variable", () => {
    assert.equal(render(`{{$c := .Config}}{{$c.Labels.env}}`), "prod");
  });
});

describe("trim markers and comments", () => {
  test("{{- and -}} trim the white space next to them", () => {
    assert.equal(render("a ,\n  {{- .Config.Labels.env -}} \n\t, b"), "a ,prod, b");
  });

  test("the dash needs a space after it; without one it is a negative number", () => {
    assert.equal(render("a {{-3}} b"), "a -3 b");
  });

  test("comments print nothing, and may trim too", () => {
    assert.equal(render("a {{/* a comment */}} b {{- /* trimmed */ -}} c"), "a  bc");
    assert.equal(failure("{{/* unclosed"), "template: tags:1: unclosed comment");
  });
});

describe("printf and print", () => {
  test("the common verbs", () => {
    assert.equal(render(`{{printf "%s %d %v %q %x %t %f" "a" 42 .Args "q" 255 true 1.5}}`), `a 42 [-g daemon off;] "q" ff true 1.500000`);
    assert.equal(render(`{{printf "%v %v %v %v" .State.Pid 1.0 1000000.0 0.00001}}`), "4242 1 1e+06 1e-05");
    assert.equal(
      render(`{{printf "%6.2f|%-8v|%08.3f|%+d|%5s|%.2s|%x|%X" 3.14159 "ab" -3.14159 5 "abc" "abcdef" "hi" 255}}`),
      "  3.14|ab      |-003.142|+5|  abc|ab|6869|FF",
    );
    assert.equal(
      render(`{{printf "%e %g %c %U %o %b %T" 1234.5678 0.000012345 65 128512 8 5 .Config}}`),
      "1.234568e+03 1.2345e-05 A U+1F600 10 101 *docker.Config",
    );
    assert.equal(
      render(`{{printf "%q %v" .Config.Labels.env .Config.Labels}}`),
      `"prod" map[com.amazonaws.ecs.task-arn:arn:aws:ecs:region:xxxxxxxxxxxx:task/368f4403-0ee4-4f4c-b7a5-be50c57db5cf com.delairtech.test.registrator:test_local env:prod]`,
    );
  });

  test("a float's exact value rounded half to even, at any precision, as strconv does", () => {
    assert.equal(render(`{{printf "%.0f %.0f %.0f %.1f %.0e %.3f" 0.5 2.5 3.5 0.25 25.0 2.675}}`), "0 2 4 0.2 2e+01 2.675");
    assert.equal(
      render(`{{printf "%.2e %.3g %.30g %.2f" 9.999 2.5e-7 0.1 5e-324}}`),
      "1.00e+01 2.5e-07 0.100000000000000005551115123126 0.00",
    );
    const digits120 = "0.1000000000000000055511151231257827021181583404541015625" + "0".repeat(65);
    assert.equal(render(`{{printf "%.120f" 0.1}}`), digits120);
    assert.equal(render(`{{printf "%.150e" 1.5}}`), `1.5${"0".repeat(149)}e+00`);
    assert.equal(render(`{{printf "%f" 1e21}}`), "1000000000000000000000.000000");
  });

  test("a wrong verb, a missing and an extra argument are written into the output, as fmt does", () => {
    assert.equal(render(`{{printf "%d|%s" "x" 1}}`), "%!d(string=x)|%!s(int=1)");
    assert.equal(
      render(`{{printf "%d %d" 1}}|{{printf "%d" 1 "a"}}|{{printf "%d" 1.5}}|{{printf "%s" nil}}`),
      "1 %!d(MISSING)|1%!(EXTRA string=a)|%!d(float64=1.5)|%!s(<nil>)",
    );
  });

  test("print spaces operands only where neither is a string; println always, with a newline", () => {
    assert.equal(render(`{{print 1 2 "a" 3 "b" "c"}}|{{println .State.Pid "x"}}`), "1 2a3bc|4242 x\n");
  });
});

describe("the other builtins", () => {
  test("and and or return an operand and stop at the first that decides", () => {
    assert.equal(
      render(`{{and 1 0 (index .Config.Env 99)}} {{or 0 "" "z"}} {{or .Config.Labels.env (index .Config.Env 99)}} {{not ""}}`),
      "0 z prod true",
    );
  });

  test("eq compares with each of several values; numbers of different kinds do not compare", () => {
    assert.equal(
      render(
        `{{eq .Config.Labels.env "dev" "prod"}} {{ne .State.Pid 1}} {{eq .State.Pid 4242}} {{eq .Config.Labels.nope .Config.Labels.nope2}}`,
      ),
      "true true true true",
    );
    assert.equal(
      failure("{{eq .State.Pid 1.0}}"),
      `template: tags:1:2: executing "tags" at <eq .State.Pid 1.0>: error calling eq: incompatible types for comparison`,
    );
  });

  test("lt, le, gt, ge order numbers and strings", () => {
    assert.equal(render(`{{lt 1 2}} {{le "b" "a"}} {{gt 2.5 1.5}} {{ge .State.Pid 4242}}`), "true false true true");
    assert.equal(
      failure(`{{lt 1 "a"}}`),
      `template: tags:1:2: executing "tags" at <lt 1 "a">: error calling lt: incompatible types for comparison`,
    );
  });

  test("len counts bytes of a string, elements of a slice, keys of a map", () => {
    assert.equal(render(`{{len "héllo"}} {{len .Config.Env}} {{len .Config.Labels}}`), "6 3 3");
  });

  test("index reads slices, strings (a byte) and maps, nested", () => {
    assert.equal(
      render(
        `{{index .Config.Env 1}} {{index "abc" 1}} {{index .Config.Labels "env"}} {{index .NetworkSettings.Networks "bridge" | printf "%v"}}`,
      ),
      "SERVICE_NAME=foo 98 prod {[]  0   0 172.17.0.2 172.17.0.1  n1}",
    );
    assert.equal(
      failure("{{index .Config.Env 5}}"),
      `template: tags:1:2: executing "tags" at <index .Config.Env 5>: error calling index: index out of range: 5`,
    );
  });

  test("slice cuts strings and slices", () => {
    assert.equal(
      render(`{{slice "hello" 1 3}} {{slice .Config.Env 1}} {{slice .Config.Env 1 2}}`),
      "el [SERVICE_NAME=foo SERVICE_PORT=80] [SERVICE_NAME=foo]",
    );
  });

  test("html, js and urlquery escape", () => {
    assert.equal(
      render(`{{html "<a href='x'>&"}} {{js "it's <b>=1"}} {{urlquery "a b&c/d"}}`),
      `&lt;a href=&#39;x&#39;&gt;&amp; it\\'s \\u003Cb\\u003E\\u003D1 a+b%26c%2Fd`,
    );
  });

  test("call calls a function value", () => {
    assert.equal(renderWith(`{{call .f 2}}`, { f: (n: number) => n * 21 }), "42");
    assert.equal(
      failure("{{call .Config}}"),
      `template: tags:1:2: executing "tags" at <call .Config>: error calling call: non-function of type *docker.Config`,
    );
  });
});

describe("missing keys and nil values", () => {
  test("a missing map key prints <no value> as a field, and the element's zero value through index", () => {
    assert.equal(
      render(`[{{.Config.Labels.nope}}] [{{index .Config.Labels "nope"}}] [{{.Config.Labels.nope.deeper}}]`),
      "[<no value>] [] [<no value>]",
    );
  });

  test("in a map of interfaces, index of a missing key is nil too; print shows a nil as <nil>", () => {
    assert.equal(
      renderWith(`{{index . "nope"}} {{.nope}} {{print .nope}} {{.nil}}`, { nil: null }),
      "<no value> <no value> <nil> <no value>",
    );
  });

  test("a missing value is not a string", () => {
    assert.equal(
      failure("{{toUpper .Config.Labels.nope}}"),
      `template: tags:1:17: executing "tags" at <.Config.Labels.nope>: invalid value; expected string`,
    );
  });

  test("a field of nil is an error", () => {
    assert.equal(failure("{{.a.b}}", { a: null }), `template: tags:1:4: executing "tags" at <.a.b>: nil pointer evaluating interface {}.b`);
    assert.equal(
      failure("{{.Node.ID}}"),
      `template: tags:1:7: executing "tags" at <.Node.ID>: nil pointer evaluating *docker.SwarmNode.ID`,
    );
    assert.equal(render("{{.Node}}"), "<nil>");
  });

  test("a field a struct lacks is an error, a field of a string too", () => {
    assert.equal(
      failure("{{.Config.Nope}}"),
      `template: tags:1:9: executing "tags" at <.Config.Nope>: can't evaluate field Nope in type *docker.Config`,
    );
    assert.equal(
      failure("{{.Name.First}}"),
      `template: tags:1:7: executing "tags" at <.Name.First>: can't evaluate field First in type string`,
    );
  });
});

describe("errors, worded as Go words them", () => {
  test("a function that is not defined is a parse error", () => {
    assert.equal(failure("{{.Config.Hostname | foo}}"), `template: tags:1: function "foo" not defined`);
  });

  test("an unclosed action, a stray end or else, a missing end", () => {
    assert.equal(failure("{{.Config.Hostname"), "template: tags:1: unclosed action");
    assert.equal(failure("a\n{{if true}}b"), "template: tags:2: unexpected EOF");
    assert.equal(failure("x{{end}}"), "template: tags:1: unexpected {{end}}");
    assert.equal(failure("{{else}}"), "template: tags:1: unexpected {{else}}");
    assert.equal(failure("{{}}"), "template: tags:1: missing value for command");
  });

  test("bad characters, strings and numbers", () => {
    assert.equal(failure("{{.a#}}"), "template: tags:1: bad character U+0023 '#'");
    assert.equal(failure(`{{"abc}}`), "template: tags:1: unterminated quoted string");
    assert.equal(failure(`{{"\\q"}}`), "template: tags:1: invalid syntax");
    assert.equal(failure("{{99999999999999999999}}"), `template: tags:1: integer overflow: "99999999999999999999"`);
  });

  test("the number and types of arguments", () => {
    assert.equal(
      failure("{{sIndex 0}}"),
      `template: tags:1:2: executing "tags" at <sIndex>: wrong number of args for sIndex: want 2 got 1`,
    );
    assert.equal(failure(`{{sIndex "0" .Args}}`), `template: tags:1:9: executing "tags" at <"0">: expected integer; found "0"`);
    assert.equal(
      failure("{{join .Args .Args}}"),
      `template: tags:1:7: executing "tags" at <.Args>: wrong type for value; expected string; got []string`,
    );
    assert.equal(
      failure("{{mIndex .Args .Config.Labels}}"),
      `template: tags:1:9: executing "tags" at <.Args>: wrong type for value; expected string; got []string`,
    );
    // A field chain is placed at its second field, as Go's parser places it.
    assert.equal(
      failure(`{{join "," .Config.Labels}}`),
      `template: tags:1:18: executing "tags" at <.Config.Labels>: wrong type for value; expected []string; got map[string]string`,
    );
  });

  test("a field given arguments, nil as a command, an undefined variable", () => {
    assert.equal(failure("{{.ID 1}}"), `template: tags:1:2: executing "tags" at <.ID>: ID has arguments but cannot be invoked as function`);
    assert.equal(failure("{{nil}}"), `template: tags:1:2: executing "tags" at <nil>: nil is not a command`);
    assert.equal(failure("{{$nope}}"), `template: tags:1: undefined variable "$nope"`);
  });

  test("break outside range, and a multi-line template's error lines", () => {
    assert.equal(failure("{{break}}"), "template: tags:1: {{break}} outside {{range}}");
    assert.equal(
      failure("ok\n\n  {{.Config.Nope}}"),
      `template: tags:3:11: executing "tags" at <.Config.Nope>: can't evaluate field Nope in type *docker.Config`,
    );
  });
});

describe("define, template and block", () => {
  test("a defined template is called with its own dot", () => {
    assert.equal(
      render(`{{define "port"}}port-{{.}}{{end}}{{template "port" .State.Pid}},{{block "b" .Name}}name{{.}}{{end}}`),
      "port-4242,name/web.1",
    );
    assert.equal(
      failure(`{{template "nope"}}`),
      `template: tags:1:11: executing "tags" at <{{template "nope"}}>: template "nope" not defined`,
    );
  });
});
