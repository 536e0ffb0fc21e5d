// A text input for filters that change the URL: it reports its value 300 ms
// after the last keystroke (and at once on Enter), and follows the value
// when the URL changes elsewhere (Back, a link).
import { useEffect, useRef, useState } from "preact/hooks";

export function DebouncedInput({
  value,
  onValue,
  ...rest
}: {
  value: string;
  onValue: (value: string) => void;
  id: string;
  type?: string;
  size?: number;
  placeholder?: string;
}) {
  const [text, setText] = useState(value);
  // The latest callback: the URL may have changed while the timer ran.
  const report = useRef(onValue);
  report.current = onValue;
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const timer = setTimeout(() => report.current(text), 300);
    return () => clearTimeout(timer);
  }, [text]);
  return (
    <input
      {...rest}
      value={text}
      autoComplete="off"
      spellcheck={false}
      onInput={(e) => setText((e.target as HTMLInputElement).value)}
      onKeyDown={(e) => {
        if (e.key === "Enter") onValue(text);
      }}
    />
  );
}
