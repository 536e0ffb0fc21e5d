// Marking what a search found: the words and "quoted phrases" of a query
// found again in a text (case ignored), and a SearchMatch's byte offsets
// (UTF-8) turned into string positions; and a small Python traceback
// highlighter that emphasises in-app frames (not site-/dist-packages or the
// standard library).
import type { ComponentChildren } from "preact";

/** The words and phrases of a search query, as SearchLogs reads it. */
export function queryTerms(query: string): string[] {
  const terms: string[] = [];
  const re = /"([^"]+)"|(\S+)/g;
  for (let m = re.exec(query); m; m = re.exec(query)) {
    const term = (m[1] ?? m[2] ?? "").trim();
    if (term.length >= 1) terms.push(term);
  }
  return terms;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `text` with every occurrence of the query's terms in <mark>. */
export function Highlighted({ text, query }: { text: string; query: string }) {
  const terms = queryTerms(query).filter((t) => t.length >= 2);
  if (!terms.length || !text) return <>{text}</>;
  const re = new RegExp(`(${terms.map(escape).join("|")})`, "gi");
  const parts = text.split(re);
  return (
    <>
      {parts.map((part, i) => (i % 2 === 1 ? <mark key={i}>{part}</mark> : part))}
    </>
  );
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A fragment with the bytes [start, end) marked (SearchMatch offsets are UTF-8 bytes). */
export function MarkedFragment({ fragment, start, end }: { fragment: string; start: number; end: number }) {
  const bytes = encoder.encode(fragment);
  const s = Math.min(Math.max(0, start), bytes.length);
  const e = Math.min(Math.max(s, end), bytes.length);
  return (
    <>
      {decoder.decode(bytes.slice(0, s))}
      <mark>{decoder.decode(bytes.slice(s, e))}</mark>
      {decoder.decode(bytes.slice(e))}
    </>
  );
}

/** True for a frame of the trainer's own code. */
export function isInAppPath(path: string): boolean {
  return !/(site-packages|dist-packages)[\\/]|[\\/]lib[\\/]python\d(\.\d+)?[\\/]|^<frozen |^<string>/.test(path);
}

const KEYWORDS = new Set(
  "and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield None True False self".split(
    " ",
  ),
);

/** A line of Python code: keywords, strings, numbers and comments coloured. */
function Code({ line, query }: { line: string; query: string }) {
  const out: ComponentChildren[] = [];
  const re = /(#.*$)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)|([^A-Za-z0-9_"'#]+)/g;
  let i = 0;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    const [text, comment, str, num, word] = m;
    const body = <Highlighted text={text} query={query} />;
    if (comment) out.push(<span key={i} class="tok-comment">{body}</span>);
    else if (str) out.push(<span key={i} class="tok-string">{body}</span>);
    else if (num) out.push(<span key={i} class="tok-number">{body}</span>);
    else if (word && KEYWORDS.has(word)) out.push(<span key={i} class="tok-keyword">{body}</span>);
    else out.push(<span key={i}>{body}</span>);
    i++;
  }
  return <>{out}</>;
}

const FRAME = /^(\s*)File "([^"]+)", line (\d+), in (.+)$/;
const EXCEPTION = /^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Group)?):( .*)?$/;

/**
 * A stack trace, line by line: Python frames ("File …, line N, in f") with
 * their code line, in-app ones emphasised; exception lines in bold; chained
 * exception notes muted. Anything else (a Rust panic, C++ abort) is shown as
 * it is, with the search terms marked.
 */
export function StackTrace({ text, query }: { text: string; query: string }) {
  const lines = text.split("\n");
  let inApp = false;
  return (
    <pre class="stack-trace" tabIndex={0} aria-label="Stack trace">
      {lines.map((line, i) => {
        const frame = FRAME.exec(line);
        if (frame) {
          inApp = isInAppPath(frame[2]);
          return (
            <div key={i} class={inApp ? "frame in-app" : "frame"}>
              {frame[1]}File "<span class="frame-path">
                <Highlighted text={frame[2]} query={query} />
              </span>", line <span class="tok-number">{frame[3]}</span>, in{" "}
              <span class="frame-func">
                <Highlighted text={frame[4]} query={query} />
              </span>
              {inApp && <span class="visually-hidden"> (your code)</span>}
            </div>
          );
        }
        if (/^\s{4,}\S/.test(line) && i > 0 && FRAME.test(lines[i - 1])) {
          return (
            <div key={i} class={inApp ? "code in-app" : "code"}>
              <Code line={line} query={query} />
            </div>
          );
        }
        if (/^\s*[\^~]+\s*$/.test(line)) return <div key={i} class="caret">{line}</div>;
        if (EXCEPTION.test(line) && !line.startsWith(" ")) {
          return (
            <div key={i} class="exception">
              <Highlighted text={line} query={query} />
            </div>
          );
        }
        if (/^(Traceback|During handling|The above exception)/.test(line)) {
          return (
            <div key={i} class="trace-note">
              {line}
            </div>
          );
        }
        return (
          <div key={i}>
            <Highlighted text={line} query={query} />
          </div>
        );
      })}
    </pre>
  );
}
