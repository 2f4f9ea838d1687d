// search.html of a static site: reads the query language of `piperarc search` (search.py)
// and answers it from the index the build wrote under search-index/ (site/searchindex.py),
// fetching only the shards that hold the query's words and the doc files of the results
// shown. ?q=WORDS, and ?list=NAME to keep to one list (the form on every page sends both).
"use strict";

(() => {
  const COLUMNS = { s: 0, f: 1, b: 2, q: 3, a: 4, x: 5 };
  const FIELD_COLUMNS = {
    subject: ["s"],
    sender: ["f"],
    body: ["b", "q"],
    facets: ["x"],
    any: ["s", "f", "b", "q", "a"],
  };
  const FIELDS = { s: "subject", subject: "subject", f: "sender", from: "sender", b: "body", body: "body" };
  const PER_PAGE = 20;
  const TOKEN = /\s*(-?)(?:([A-Za-z]+):)?("([^"]*)("?)|[^\s"]+)/y;
  const WORDLIKE = /[\p{L}\p{N}]/u;
  const WORD = /[\p{L}\p{N}]+/gu;
  const DATE = /^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$/;

  class QueryError extends Error {}

  // Words as mail/words.py cuts them: lower case, no diacritics, letters and digits.
  function words(text) {
    const folded = text.toLowerCase().normalize("NFD").replace(/\p{Mn}/gu, "");
    return folded.match(WORD) || [];
  }

  function listToken(name) {
    return "l" + Array.from(new TextEncoder().encode(name), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function day(value, end) {
    const found = DATE.exec(value);
    if (!found) throw new QueryError(`d:${value} is not a date: write d:2023, d:2023-01 or d:2023-01-31`);
    const year = Number(found[1]);
    if (found[3] !== undefined) {
      const d = new Date(Date.UTC(year, Number(found[2]) - 1, Number(found[3])));
      if (d.getUTCMonth() !== Number(found[2]) - 1 || d.getUTCDate() !== Number(found[3]))
        throw new QueryError(`d:${value} is not a date in the calendar`);
      return d;
    }
    if (found[2] !== undefined) {
      const m = Number(found[2]);
      if (m < 1 || m > 12) throw new QueryError(`d:${value} is not a date in the calendar`);
      return end ? new Date(Date.UTC(year, m, 0)) : new Date(Date.UTC(year, m - 1, 1));
    }
    return end ? new Date(Date.UTC(year, 11, 31)) : new Date(Date.UTC(year, 0, 1));
  }

  const pad = (n, w) => String(n).padStart(w, "0");
  const ymd = (d) => `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}`;

  // facets.date_cover: the fewest day, month and year tokens covering first..last.
  function dateCover(first, last) {
    const tokens = [];
    let d = new Date(first.getTime());
    while (d <= last) {
      const y = d.getUTCFullYear();
      const m = d.getUTCMonth();
      const yearEnd = new Date(Date.UTC(y, 11, 31));
      const monthEnd = new Date(Date.UTC(y, m + 1, 0));
      if (m === 0 && d.getUTCDate() === 1 && yearEnd <= last) {
        tokens.push(`y${pad(y, 4)}`);
        d = new Date(Date.UTC(y + 1, 0, 1));
      } else if (d.getUTCDate() === 1 && monthEnd <= last) {
        tokens.push(`m${pad(y, 4)}${pad(m + 1, 2)}`);
        d = new Date(Date.UTC(y, m + 1, 1));
      } else {
        tokens.push(`d${ymd(d)}`);
        d = new Date(Date.UTC(y, m, d.getUTCDate() + 1));
      }
      if (tokens.length > 5000) throw new QueryError("that date range is too long");
    }
    return tokens;
  }

  function dateTerms(value) {
    let first;
    let last;
    if (value.includes("..")) {
      const at = value.indexOf("..");
      const low = value.slice(0, at);
      const high = value.slice(at + 2);
      first = low ? day(low, false) : new Date(Date.UTC(1970, 0, 1));
      last = high ? day(high, true) : new Date(Date.UTC(2099, 11, 31));
    } else {
      first = day(value, false);
      last = day(value, true);
    }
    const earliest = new Date(Date.UTC(1970, 0, 1));
    const latest = new Date(Date.UTC(2099, 11, 31));
    if (first < earliest) first = earliest;
    if (last > latest) last = latest;
    if (last < first) throw new QueryError(`d:${value}: the range ends before it starts`);
    return dateCover(first, last).map((t) => ({ tokens: [t], field: "facets", prefix: false }));
  }

  // -- word forms: mail/stems.py, line for line (Porter's algorithm) ----------------------

  const WIDENED = /^[a-z]{3,40}$/;
  const isConsonant = (w, i) => {
    const ch = w[i];
    if ("aeiou".includes(ch)) return false;
    if (ch === "y") return i === 0 || !isConsonant(w, i - 1);
    return true;
  };
  function measure(stem) {
    let m = 0;
    let previousVowel = false;
    for (let i = 0; i < stem.length; i += 1) {
      const vowel = !isConsonant(stem, i);
      if (previousVowel && !vowel) m += 1;
      previousVowel = vowel;
    }
    return m;
  }
  const hasVowel = (stem) => [...stem].some((_, i) => !isConsonant(stem, i));
  const doubleConsonant = (s) => s.length >= 2 && s.at(-1) === s.at(-2) && isConsonant(s, s.length - 1);
  const cvc = (s) => {
    const n = s.length;
    return n >= 3 && isConsonant(s, n - 3) && !isConsonant(s, n - 2) && isConsonant(s, n - 1) && !"wxy".includes(s[n - 1]);
  };
  const STEP2 = {
    ational: "ate", tional: "tion", enci: "ence", anci: "ance", izer: "ize", abli: "able", alli: "al",
    entli: "ent", eli: "e", ousli: "ous", ization: "ize", ation: "ate", ator: "ate", alism: "al",
    iveness: "ive", fulness: "ful", ousness: "ous", aliti: "al", iviti: "ive", biliti: "ble",
  };
  const STEP3 = { icate: "ic", ative: "", alize: "al", iciti: "ic", ical: "ic", ful: "", ness: "" };
  const STEP4 = ["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou",
    "ism", "ate", "iti", "ous", "ive", "ize"];
  const longest = (word, suffixes) => {
    let best = null;
    for (const s of suffixes) if (word.endsWith(s) && (best === null || s.length > best.length)) best = s;
    return best;
  };
  const replaceSuffix = (word, rules, minimum) => {
    const suffix = longest(word, Object.keys(rules));
    if (suffix === null) return word;
    const stem = word.slice(0, -suffix.length);
    return measure(stem) > minimum ? stem + rules[suffix] : word;
  };

  function stem(word) {
    if (word.length <= 2) return word;
    if (word.endsWith("sses") || word.endsWith("ies")) word = word.slice(0, -2);
    else if (word.endsWith("s") && !word.endsWith("ss")) word = word.slice(0, -1);
    if (word.endsWith("eed")) {
      if (measure(word.slice(0, -3)) > 0) word = word.slice(0, -1);
    } else {
      for (const suffix of ["ed", "ing"]) {
        if (word.endsWith(suffix) && hasVowel(word.slice(0, -suffix.length))) {
          word = word.slice(0, -suffix.length);
          if (["at", "bl", "iz"].some((e) => word.endsWith(e))) word += "e";
          else if (doubleConsonant(word) && !"lsz".includes(word.at(-1))) word = word.slice(0, -1);
          else if (measure(word) === 1 && cvc(word)) word += "e";
          break;
        }
      }
    }
    if (word.endsWith("y") && hasVowel(word.slice(0, -1))) word = word.slice(0, -1) + "i";
    word = replaceSuffix(word, STEP2, 0);
    word = replaceSuffix(word, STEP3, 0);
    const suffix = longest(word, STEP4);
    if (suffix !== null) {
      const before = word.slice(0, -suffix.length);
      if (measure(before) > 1 && (suffix !== "ion" || before.endsWith("s") || before.endsWith("t"))) word = before;
    }
    if (word.endsWith("e")) {
      const before = word.slice(0, -1);
      const m = measure(before);
      if (m > 1 || (m === 1 && !cvc(before))) word = before;
    }
    if (measure(word) > 1 && doubleConsonant(word) && word.endsWith("l")) word = word.slice(0, -1);
    return word;
  }

  const ENDINGS = ["", "s", "es", "d", "ed", "ing", "er", "ers", "est", "ly", "e", "y", "ies", "ied", "ier",
    "iest", "ily", "iness", "ion", "ions", "ional", "ation", "ations", "ate", "ates", "ated", "ating", "ator",
    "ators", "ative", "ive", "ively", "ness", "ful", "fully", "ment", "ments", "ity", "ities", "ism", "isms",
    "ist", "ists", "able", "ably", "ible", "al", "ally", "ance", "ence", "ize", "izes", "ized", "izing",
    "ization", "ic", "ical", "ically", "ous", "ously", "ant", "ent", "ings", "ement", "ements", "ences", "ances",
    "ency", "encies", "ancy", "ancies", "ability", "abilities", "ibility", "ibilities", "ility", "ilities",
    "izer", "izers", "ionally", "ently", "antly", "eful"];

  function forms(word) {
    if (!WIDENED.test(word)) return [word];
    const root = stem(word);
    const bases = new Set([root, word, root + "e"]);
    if (root.endsWith("e") || root.endsWith("y")) bases.add(root.slice(0, -1));
    if (root.endsWith("i")) {
      bases.add(root.slice(0, -1) + "y");
      bases.add(root.slice(0, -1));
    }
    if (root.endsWith("bl")) bases.add(root.slice(0, -1));
    if (!"aeiou".includes(root.at(-1))) bases.add(root + root.at(-1));
    const found = new Set([word]);
    for (const base of bases) for (const ending of ENDINGS) if (stem(base + ending) === root) found.add(base + ending);
    // Sorted as Python sorts str: by code point (these are ASCII).
    return [...found].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  // search._widen: an unquoted English word finds its other forms; the rest as written.
  function widen(term, quoted) {
    if (quoted || term.prefix || !["any", "subject", "body"].includes(term.field)) return [term];
    if (term.tokens.length !== 1 || !WIDENED.test(term.tokens[0])) return [term];
    return forms(term.tokens[0]).map((f) => ({ tokens: [f], field: term.field, prefix: false }));
  }

  // search.parse_query, the same language and the same errors.
  function parseQuery(text, listNames) {
    const groups = [];
    const excluded = [];
    const lists = [...listNames];
    const given = lists.length;
    let dates = [];
    let attachment = false;
    let root = false;
    let joinNext = false;
    text = text.trim();
    if (text.length > 1000) throw new QueryError("the query is too long (at most 1,000 characters)");
    if (text.includes("\u0000")) throw new QueryError("a query cannot hold a NUL character (%00): type words to search for");
    let pos = 0;
    while (pos < text.length) {
      TOKEN.lastIndex = pos;
      const found = TOKEN.exec(text);
      if (!found || TOKEN.lastIndex === pos) throw new QueryError(`cannot read the query near ${text.slice(pos, pos + 20)}`);
      pos = TOKEN.lastIndex;
      const [, negate, rawPrefix, raw, phrase, closing] = found;
      const prefix = (rawPrefix || "").toLowerCase();
      if (raw.startsWith('"') && !closing) throw new QueryError('a phrase is missing its closing quote (")');
      let value = phrase !== undefined ? phrase : raw;
      if (!prefix && !negate && raw === "OR" && phrase === undefined) {
        if (!groups.length || joinNext) throw new QueryError("OR needs a word on each side, as in: typo OR spelling");
        joinNext = true;
        continue;
      }
      if (prefix === "l" || prefix === "list") {
        lists.push(value);
        continue;
      }
      if (prefix === "d") {
        dates = dateTerms(value);
        continue;
      }
      if (prefix === "has") {
        if (!["attachment", "attachments"].includes(value.toLowerCase())) throw new QueryError(`has:${value} is not known: use has:attachment`);
        attachment = true;
        continue;
      }
      if (prefix === "is") {
        if (value.toLowerCase() !== "root") throw new QueryError(`is:${value} is not known: use is:root`);
        root = true;
        continue;
      }
      const field = prefix ? FIELDS[prefix] : undefined;
      if (prefix && field === undefined) value = `${rawPrefix}:${value}`;
      const star = phrase === undefined && value.endsWith("*");
      const text2 = star ? value.replace(/\*+$/, "") : value;
      if (!WORDLIKE.test(text2)) continue;
      const terms = widen({ tokens: words(text2), field: field || "any", prefix: star }, phrase !== undefined);
      if (negate) excluded.push(...terms);
      else if (joinNext) {
        groups[groups.length - 1].push(...terms);
        joinNext = false;
      } else groups.push(terms);
    }
    if (joinNext) throw new QueryError("OR needs a word on each side, as in: typo OR spelling");
    if (!(groups.length || excluded.length || dates.length || attachment || root || lists.length > given))
      throw new QueryError("type some words to search for (see the search help for more)");
    if (lists.length) groups.push([...new Set(lists)].map((n) => ({ tokens: [listToken(n)], field: "facets", prefix: false })));
    if (dates.length) groups.push(dates);
    if (attachment) groups.push([{ tokens: ["attach"], field: "facets", prefix: false }]);
    if (root) groups.push([{ tokens: ["root"], field: "facets", prefix: false }]);
    if (excluded.length && !groups.length)
      throw new QueryError("say what to search for as well as what to leave out: a word, l:list or d:date");
    return { groups, excluded };
  }

  // -- the index ------------------------------------------------------------------------

  class Index {
    constructor(base) {
      this.base = base;
      this.files = new Map();
    }

    async json(path) {
      if (!this.files.has(path)) {
        this.files.set(
          path,
          (async () => {
            const response = await fetch(this.base + path);
            if (!response.ok) throw new Error(`${path}: ${response.status}`);
            const bytes = new Uint8Array(await response.arrayBuffer());
            // A server that says "Content-Encoding: gzip" for .gz files has the browser
            // unpack them already: gunzip only what still starts as gzip.
            if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return JSON.parse(new TextDecoder().decode(bytes));
            const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
            return JSON.parse(await new Response(stream).text());
          })(),
        );
      }
      return this.files.get(path);
    }

    async root() {
      return this.json("index.json.gz");
    }

    // The shards that may hold words from `low` up to (not including) `high`.
    async shardsFor(low, high) {
      const { shards } = await this.root();
      let i = 0;
      while (i + 1 < shards.length && shards[i + 1][0] <= low) i += 1;
      const names = [];
      for (; i < shards.length && (high === null || shards[i][0] < high); i += 1) names.push(shards[i][1]);
      return names;
    }

    // word -> "postings" for one word, or for every word starting with it (prefix).
    async postings(word, prefix) {
      const high = prefix ? word + "\uffff" : null;
      const names = prefix ? await this.shardsFor(word, high) : (await this.shardsFor(word, null)).slice(0, 1);
      if (prefix && names.length > 16) throw new QueryError(`${word}* matches too many words: write more letters before *`);
      const found = [];
      for (const name of names) {
        const shard = await this.json(`w/${name}.json.gz`);
        if (!prefix) {
          if (shard[word]) found.push(shard[word][1]);
        } else {
          for (const [w, value] of Object.entries(shard)) if (w.startsWith(word)) found.push(value[1]);
        }
      }
      return found;
    }

    async docs(numbers) {
      const { chunk } = await this.root();
      return Promise.all(
        numbers.map(async (n) => {
          const file = await this.json(`d/${Math.floor(n / chunk)}.json.gz`);
          return file[n % chunk];
        }),
      );
    }
  }

  // Postings text -> Map(doc -> Map(column -> [offsets])).
  function decode(postings, into) {
    let doc = 0;
    for (const entry of postings.split(";")) {
      const colon = entry.indexOf(":");
      doc += Number(entry.slice(0, colon));
      let columns = into.get(doc);
      if (!columns) {
        columns = new Map();
        into.set(doc, columns);
      }
      for (const group of entry.slice(colon + 1).matchAll(/([a-z])([\d,]+)/g)) {
        const offsets = group[2].split(",").map(Number);
        const held = columns.get(group[1]);
        columns.set(group[1], held ? held.concat(offsets) : offsets);
      }
    }
    return into;
  }

  async function wordDocs(index, word, prefix) {
    const docs = new Map();
    for (const postings of await index.postings(word, prefix)) decode(postings, docs);
    return docs;
  }

  // The docs a term matches: every token in one of the field's columns, in order.
  async function termDocs(index, term) {
    const allowed = FIELD_COLUMNS[term.field];
    if (!term.tokens.length) return new Set();
    const last = term.tokens.length - 1;
    const lists = await Promise.all(term.tokens.map((t, i) => wordDocs(index, t, term.prefix && i === last)));
    const result = new Set();
    for (const [doc, columns] of lists[0]) {
      for (const col of allowed) {
        const starts = columns.get(col);
        if (!starts) continue;
        let ok = starts;
        for (let i = 1; i <= last && ok.length; i += 1) {
          const next = lists[i].get(doc);
          const at = next && next.get(col);
          if (!at) {
            ok = [];
            break;
          }
          const there = new Set(at);
          ok = ok.filter((p) => there.has(p + i));
        }
        if (ok.length) {
          result.add(doc);
          break;
        }
      }
    }
    return result;
  }

  async function run(index, query) {
    let matched = null;
    for (const group of query.groups) {
      const union = new Set();
      for (const term of group) for (const doc of await termDocs(index, term)) union.add(doc);
      matched = matched === null ? union : new Set([...matched].filter((d) => union.has(d)));
      if (!matched.size) break;
    }
    for (const term of query.excluded) {
      if (!matched.size) break;
      const out = await termDocs(index, term);
      matched = new Set([...matched].filter((d) => !out.has(d)));
    }
    return [...(matched || [])].sort((a, b) => b - a); // newest first
  }

  // -- suggestions: search.suggest ------------------------------------------------------

  const BARE = /(?<!\S)([^\s"*:-][^\s"*:]*)(?!\S)/gu;
  const LETTERS = "abcdefghijklmnopqrstuvwxyz";
  const SUGGESTIONS = 3;

  function edits(word) {
    const found = new Set();
    for (let i = 1; i <= word.length; i += 1) {
      const head = word.slice(0, i);
      const tail = word.slice(i);
      if (tail) {
        found.add(head + tail.slice(1));
        for (const c of LETTERS) found.add(head + c + tail.slice(1));
      }
      if (tail.length > 1) found.add(head + tail[1] + tail[0] + tail.slice(2));
      for (const c of LETTERS) found.add(head + c + tail);
    }
    found.delete(word);
    return [...found].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  // word -> how many messages hold it (not counting facets), among `within` (or all).
  async function wordCounts(index, words, within) {
    const counts = new Map();
    for (const word of new Set(words)) {
      let n = 0;
      for (const [doc, columns] of await wordDocs(index, word, false))
        if ([...columns.keys()].some((c) => c !== "x") && (!within || within.has(doc))) n += 1;
      if (n) counts.set(word, n);
    }
    return counts;
  }

  async function suggest(index, text, listNames) {
    let within = null;
    if (listNames.length) {
      within = new Set();
      for (const name of listNames)
        for (const doc of await termDocs(index, { tokens: [listToken(name)], field: "facets", prefix: false }))
          within.add(doc);
    }
    for (const found of text.matchAll(BARE)) {
      const token = found[1];
      const cut = words(token);
      if (token === "OR" || cut.length !== 1 || cut[0].length < 3 || !/^\p{L}+$/u.test(cut[0])) continue;
      const word = cut[0];
      if ((await wordCounts(index, forms(word), within)).size) continue;
      const counts = await wordCounts(index, edits(word), within);
      const best = [...counts.keys()]
        .sort((a, b) => counts.get(b) - counts.get(a) || (a < b ? -1 : a > b ? 1 : 0))
        .slice(0, SUGGESTIONS);
      const start = found.index;
      const end = start + token.length;
      const out = best.map((w) => text.slice(0, start) + w + text.slice(end));
      const prefixed = `${text.slice(0, start)}${word.slice(0, word.length - 2)}*${text.slice(end)}`;
      if (word.length >= 5 && (await run(index, parseQuery(prefixed, listNames))).length) out.push(prefixed);
      return out;
    }
    return [];
  }

  // For the tests and for a console: every doc's URL a query finds, newest first.
  async function search(indexBase, text, listNames = []) {
    const index = new Index(indexBase);
    const docs = await run(index, parseQuery(text, listNames));
    return (await index.docs(docs)).map((d) => d[0]);
  }
  window.piperarcSearch = search;
  window.piperarcForms = forms;
  window.piperarcSuggest = async (indexBase, text, listNames = []) => suggest(new Index(indexBase), text, listNames);

  // -- the page -------------------------------------------------------------------------

  function item(root, doc, marks) {
    const [url, list, subject, sender, date, excerpt] = doc;
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.className = "subject";
    a.href = root + url;
    a.textContent = subject || "(no subject)";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = sender;
    const time = document.createElement("time");
    time.dateTime = date;
    time.textContent = new Date(`${date}T00:00:00Z`).toLocaleDateString(undefined, {
      year: "numeric", month: "short", day: "numeric", timeZone: "UTC",
    });
    const where = document.createElement("span");
    where.className = "list";
    where.textContent = list;
    const snippet = document.createElement("p");
    snippet.className = "snippet";
    highlight(snippet, around(excerpt, marks), marks);
    li.append(a, " ", who, " ", time, " ", where, snippet);
    // The words found are often further in than the excerpt the index keeps: the
    // message's own page (same site) has its text; the snippet is cut from there.
    if (marks.length) {
      ownText(root + url).then((texts) => {
        for (const text of texts) {
          if (markPattern(marks).test(text)) {
            snippet.textContent = "";
            highlight(snippet, around(text, marks), marks);
            return;
          }
        }
      }, () => {});
    }
    return li;
  }

  // A message page's texts, the sender's own first: its text parts without quotes or
  // signature, and up to a list's footer; then the quoted lines.
  async function ownText(href) {
    const response = await fetch(href);
    if (!response.ok) return [];
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const own = [];
    const quoted = [];
    for (const part of page.querySelectorAll("article .body .text")) {
      const copy = part.cloneNode(true);
      for (const q of copy.querySelectorAll(".quote, .signature, .quote-elided")) {
        if (q.matches("blockquote")) quoted.push(q.textContent);
        q.remove();
      }
      own.push(copy.textContent);
    }
    const flat = (t) => t.replace(/\s+/g, " ").trim();
    const mine = own.join("\n").split(/^_{8,}\s*$/m)[0];
    return [flat(mine), flat(quoted.join(" ")), flat(own.join(" "))];
  }

  // Whole words (a word* term: any word it starts), as the index found them.
  function markPattern(marks) {
    const escaped = marks.map(
      (m) => m.word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + (m.prefix ? "[\\p{L}\\p{N}]*" : ""),
    );
    return new RegExp(`(?<![\\p{L}\\p{N}])(${escaped.join("|")})(?![\\p{L}\\p{N}])`, "giu");
  }

  // About SHOWN characters of the excerpt: from a little before the first word found in
  // it, or its start.
  const SHOWN = 200;
  function around(text, marks) {
    let start = 0;
    if (marks.length) {
      const found = markPattern(marks).exec(text);
      if (found && found.index > SHOWN / 3) {
        const from = text.lastIndexOf(" ", found.index - 40);
        start = from > 0 ? from + 1 : 0;
      }
    }
    let shown = text.slice(start);
    if (shown.length > SHOWN + 20) {
      const cut = shown.lastIndexOf(" ", SHOWN);
      shown = `${shown.slice(0, cut > SHOWN / 2 ? cut : SHOWN).replace(/ …$/, "")} …`;
    }
    return start > 0 ? `… ${shown}` : shown;
  }

  // The excerpt as text nodes, each query word found in it marked.
  function highlight(into, text, marks) {
    if (!marks.length) {
      into.textContent = text;
      return;
    }
    const pattern = markPattern(marks);
    let at = 0;
    for (const found of text.matchAll(pattern)) {
      into.append(text.slice(at, found.index));
      const mark = document.createElement("mark");
      mark.textContent = found[0];
      into.append(mark);
      at = found.index + found[0].length;
    }
    into.append(text.slice(at));
  }

  window.addEventListener("DOMContentLoaded", async () => {
    const form = document.getElementById("static-search");
    if (!form) return;
    const params = new URLSearchParams(window.location.search);
    const text = params.get("q") || "";
    const list = params.get("list") || "";
    const status = document.getElementById("search-status");
    const results = document.getElementById("search-results");
    const pager = document.getElementById("search-pager");
    document.getElementById("static-q").value = text;
    document.getElementById("static-list").value = list;
    if (!text.trim()) return;
    if (window.location.protocol === "file:") {
      // A page opened from disk may not fetch files beside it: say so, not "failed".
      status.className = "error";
      status.textContent =
        "Searching needs the archive served over HTTP: a browser does not let a page opened " +
        "from disk read the search index. Serve the site's folder (python3 -m http.server " +
        "there will do) and open search.html from it.";
      return;
    }
    const index = new Index(form.dataset.index);
    const root = form.dataset.root;
    status.textContent = "Searching…";
    try {
      const query = parseQuery(text, list ? [list] : []);
      const found = await run(index, query);
      const marks = query.groups
        .flat()
        .filter((t) => t.field !== "facets")
        .flatMap((t) => t.tokens.map((word, i) => ({ word, prefix: t.prefix && i === t.tokens.length - 1 })));
      let shown = 0;
      const more = async () => {
        const page = found.slice(shown, shown + PER_PAGE);
        for (const doc of await index.docs(page)) results.append(item(root, doc, marks));
        shown += page.length;
        pager.hidden = shown >= found.length;
      };
      document.getElementById("search-more").addEventListener("click", more);
      await more();
      // Said once the first results are on the page.
      status.textContent = `${found.length} message${found.length === 1 ? "" : "s"} found, newest first.`;
      if (!found.length) {
        const instead = await suggest(index, text, list ? [list] : []);
        if (instead.length) {
          const p = document.createElement("p");
          p.className = "suggestions";
          p.append("Did you mean ");
          instead.forEach((q, i) => {
            const a = document.createElement("a");
            const params = new URLSearchParams({ q });
            if (list) params.set("list", list);
            a.href = `?${params}`;
            a.textContent = q;
            p.append(...(i ? [" or ", a] : [a]));
          });
          p.append("?");
          status.after(p);
        }
      }
    } catch (err) {
      status.className = "error";
      status.textContent = err instanceof QueryError ? err.message : `The search index could not be read (${err.message}).`;
    }
  });
})();
