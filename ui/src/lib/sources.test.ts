import { describe, expect, it } from "vitest";
import { promptSourceOf } from "./sources";

describe("prompt sources", () => {
  it("are read from a picker's value", () => {
    expect(promptSourceOf("bundled:red-team.jsonl")).toEqual({ kind: "bundled", file: "red-team.jsonl" });
    expect(promptSourceOf("stored:my: set")).toEqual({ kind: "stored", name: "my: set" });
    expect(promptSourceOf("file")).toBeNull();
    expect(promptSourceOf("file", { handle: "file-3", name: "x.csv" })).toEqual({ kind: "file", handle: "file-3" });
  });
});
