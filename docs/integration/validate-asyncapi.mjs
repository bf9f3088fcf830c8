// Validates the AsyncAPI documents given as arguments with the official parser.
// Exits 1 on any error-severity diagnostic (or an unreadable file), and prints
// warnings without failing. Needs no network: every $ref in our documents is local.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import parserPackage from '@asyncapi/parser';

const { Parser } = parserPackage;
// Spectral's DiagnosticSeverity: 0 error, 1 warning, 2 information, 3 hint.
const SEVERITY = ['error', 'warning', 'info', 'hint'];

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate-asyncapi.mjs <asyncapi.yaml>...');
  process.exit(2);
}

const parser = new Parser();
let failed = false;
for (const file of files) {
  const source = resolve(file);
  let text;
  try {
    text = await readFile(source, 'utf8');
  } catch (error) {
    console.error(`${file}: cannot read: ${error.message}`);
    failed = true;
    continue;
  }
  const { document, diagnostics } = await parser.parse(text, { source });
  const errors = diagnostics.filter((d) => d.severity === 0);
  // Information and hints (e.g. "a newer AsyncAPI version exists") are not shown.
  for (const d of diagnostics.filter((x) => x.severity <= 1)) {
    const line = d.range ? d.range.start.line + 1 : '?';
    const where = d.path && d.path.length ? d.path.join('.') : '(document)';
    console.error(`${file}:${line}: ${SEVERITY[d.severity] ?? d.severity} ${d.code}: ${d.message} at ${where}`);
  }
  if (errors.length > 0 || document === undefined) {
    failed = true;
  } else {
    const version = document.version();
    const channels = document.channels().length;
    const messages = document.allMessages().length;
    console.log(`${file}: valid AsyncAPI ${version} (${channels} channels, ${messages} messages)`);
  }
}
process.exit(failed ? 1 : 0);
