/**
 * A float's digits as Go's strconv gives them for a fixed precision: from the double's exact decimal
 * value, rounded half to even, at any precision. Number's toFixed and toExponential stop at 100
 * digits and round a tie up (2.5 becomes "3" where Go prints "2"). Pure.
 */

/** The exact value of a finite, non-negative double: `digits / 10^scale`. */
interface Exact {
  digits: bigint;
  scale: number;
}

function exactValue(x: number): Exact {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (biased === 0 ? 1 : biased) - 1075;
  if (exponent >= 0) return { digits: mantissa << BigInt(exponent), scale: 0 };
  // m / 2^k = m * 5^k / 10^k
  return { digits: mantissa * 5n ** BigInt(-exponent), scale: -exponent };
}

/** `digits / 10^drop`, rounded half to even. */
function roundOff(digits: bigint, drop: number): bigint {
  if (drop <= 0) return digits;
  const unit = 10n ** BigInt(drop);
  const kept = digits / unit;
  const twice = (digits % unit) * 2n;
  return twice > unit || (twice === unit && kept % 2n === 1n) ? kept + 1n : kept;
}

/** `%.<precision>f` of a finite x ≥ 0: "2.50", "0", "12". */
export function fixedDigits(x: number, precision: number): string {
  const { digits, scale } = exactValue(x);
  const text = precision >= scale ? digits.toString() + "0".repeat(precision - scale) : roundOff(digits, scale - precision).toString();
  if (precision === 0) return text;
  const whole = text.length > precision ? text.slice(0, text.length - precision) : "0";
  return `${whole}.${text.slice(-precision).padStart(precision, "0")}`;
}

/** `%.<precision>e` of a finite x ≥ 0, with Go's two-digit exponent: "2.50e+00", "1e+21". */
export function exponentDigits(x: number, precision: number): string {
  const { digits, scale } = exactValue(x);
  let text = digits.toString();
  let exponent = digits === 0n ? 0 : text.length - 1 - scale;
  if (text.length > precision + 1) {
    text = roundOff(digits, text.length - precision - 1).toString();
    // 9.99 rounded to 10.0: one digit more, one power of ten up.
    if (text.length > precision + 1) {
      text = text.slice(0, precision + 1);
      exponent += 1;
    }
  } else text = text.padEnd(precision + 1, "0");
  const mantissa = precision === 0 ? text : `${text[0]}.${text.slice(1)}`;
  return mantissa + goExponent(exponent);
}

/** A float's exponent as Go writes it, signed and of at least two digits: "e+05", "e-07", "e+100". */
export function goExponent(exponent: number): string {
  return `e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
}
