// Saving what a stream delivered as a file in the browser's downloads.
export function saveFile(chunks: Uint8Array[], fileName: string, type = "application/json"): void {
  const blob = new Blob(chunks as BlobPart[], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
