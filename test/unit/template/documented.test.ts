/** Every template the v7.4 and fayrus v9 documentation and our README show renders as documented, within the limits. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { goContainerView, renderTemplate, tagFunctions } from "../../../src/template/template.js";

/** The container of v7.4's function documentation (its bridge/bridge.go's comments). */
const view = goContainerView({
  Id: "e20f9c1a76565d62ae24a3bb877b17b862b6eab94f4e95a0e07ccf25087aaf4f",
  Config: {
    Hostname: "e20f9c1a7656",
    Env: ["ENVIRONMENT=test", "SERVICE_8105_NAME=foo", "HOME=/home/foobar", "SERVICE_9404_NAME=bar"],
    Labels: { "com.amazonaws.ecs.task-arn": "arn:aws:ecs:region:xxxxxxxxxxxx:task/368f4403-0ee4-4f4c-b7a5-be50c57db5cf" },
  },
});
const body = JSON.stringify({ Additional: { Country: "United States" } });
const functions = tagFunctions({ httpGet: () => body });
const render = (source: string) => renderTemplate(source, view, functions);

const DOCUMENTED: Array<[source: string, output: string, where: string]> = [
  ["{{strSlice .ID 0 12}}", "e20f9c1a7656", "v7.4 strSlice"],
  ["{{sIndex 0 .Config.Env}}", "ENVIRONMENT=test", "v7.4 sIndex"],
  [
    '{{mIndex "com.amazonaws.ecs.task-arn" .Config.Labels}}',
    "arn:aws:ecs:region:xxxxxxxxxxxx:task/368f4403-0ee4-4f4c-b7a5-be50c57db5cf",
    "v7.4 mIndex",
  ],
  ['{{toUpper "foo"}}', "FOO", "v7.4 toUpper"],
  ['{{toLower "FoO"}}', "foo", "v7.4 toLower"],
  ['{{replace -1 "=" "" "=foo="}}', "foo", "v7.4 replace"],
  ['{{join "," .Config.Env}}', "ENVIRONMENT=test,SERVICE_8105_NAME=foo,HOME=/home/foobar,SERVICE_9404_NAME=bar", "v7.4 join"],
  ['{{split "," "/proc/bus,/proc/fs,/proc/irq"}}', "[/proc/bus /proc/fs /proc/irq]", "v7.4 split"],
  [
    '{{splitIndex -1 "/" "arn:aws:ecs:region:xxxxxxxxxxxx:task/368f4403-0ee4-4f4c-b7a5-be50c57db5cf"}}',
    "368f4403-0ee4-4f4c-b7a5-be50c57db5cf",
    "v7.4 splitIndex",
  ],
  ['{{matchFirstElement "^SERVICE_" .Config.Env}}', "SERVICE_8105_NAME=foo", "v7.4 matchFirstElement"],
  ['{{matchAllElements "^SERVICE_" .Config.Env}}', "[SERVICE_8105_NAME=foo SERVICE_9404_NAME=bar]", "v7.4 matchAllElements"],
  ['{{jsonParse (httpGet "https://ajpi.me/all") "Additional::Country"}}', "United States", "v7.4 httpGet and jsonParse"],
  ["container_id={{ .ID }}", `container_id=e20f9c1a76565d62ae24a3bb877b17b862b6eab94f4e95a0e07ccf25087aaf4f`, "v7.4 -tags"],
  [
    'ecs_task_id={{ mIndex "com.amazonaws.ecs.task-arn" .Config.Labels | splitIndex -1 "/" }}',
    "ecs_task_id=368f4403-0ee4-4f4c-b7a5-be50c57db5cf",
    "v7.4 -tags",
  ],
  ['{{ join "," .Config.Env | toLower }}', "environment=test,service_8105_name=foo,home=/home/foobar,service_9404_name=bar", "v7.4 -tags"],
  ["{{.Config.Hostname}}", "e20f9c1a7656", "fayrus v9 SERVICE_TAGS, and our README's -tags"],
];

describe("documented templates render unchanged within the limits", () => {
  for (const [source, output, where] of DOCUMENTED) {
    test(`${where}: ${source}`, () => assert.equal(render(source), output));
  }
});
