import luaparse from "luaparse";

/** A file that is not the Lua data Prosody's file store writes. */
export class ForeignFileError extends Error {
  override readonly name = "ForeignFileError";
}

type LuaValue = string | number | boolean | null | { [key: string]: LuaValue };

type Node = { type: string; [field: string]: unknown };

/**
 * Reads a Prosody file-store `.dat` file (`return { ["k"] = v; … };`) as data. It is parsed, never
 * run: only literals and tables are accepted, anything else makes the file foreign.
 */
export function readLuaData(text: string): LuaValue {
  let chunk: { body: Node[] };
  try {
    chunk = luaparse.parse(text, { comments: false, scope: false, encodingMode: "pseudo-latin1" }) as never;
  } catch (err) {
    throw new ForeignFileError(`not Lua data: ${(err as Error).message}`);
  }
  const [statement, ...rest] = chunk.body;
  if (!statement || rest.length > 0 || statement.type !== "ReturnStatement") {
    throw new ForeignFileError("not a Prosody data file (expected a single `return { … }`)");
  }
  const args = statement.arguments as Node[];
  if (args.length !== 1 || !args[0]) throw new ForeignFileError("not a Prosody data file");
  return valueOf(args[0]);
}

function valueOf(node: Node): LuaValue {
  switch (node.type) {
    case "StringLiteral":
      // pseudo-latin1 maps each byte to one char; turn the bytes back into UTF-8.
      return Buffer.from(String(node.value), "latin1").toString("utf8");
    case "NumericLiteral":
      return Number(node.value);
    case "BooleanLiteral":
      return Boolean(node.value);
    case "NilLiteral":
      return null;
    case "UnaryExpression":
      if (node.operator === "-" && (node.argument as Node).type === "NumericLiteral") {
        return -Number((node.argument as Node).value);
      }
      break;
    case "TableConstructorExpression": {
      const table: Record<string, LuaValue> = {};
      (node.fields as Node[]).forEach((field, index) => {
        if (field.type === "TableKey") table[String(valueOf(field.key as Node))] = valueOf(field.value as Node);
        else if (field.type === "TableKeyString")
          table[String((field.key as Node).name)] = valueOf(field.value as Node);
        else table[String(index + 1)] = valueOf(field.value as Node);
      });
      return table;
    }
  }
  throw new ForeignFileError(`unexpected ${node.type} in a data file`);
}
