package render

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/quirehq/quire/crdt"
)

// Markdown renders a root as CommonMark with GitHub's task lists and
// strikethrough. Blocks are separated by a blank line and the output ends
// with a newline (an empty document is "").
//
//   - paragraphs; ATX headings (#..######); "---" rules; fenced code
//     blocks (```lang, with a longer fence when the code holds backticks);
//     blockquotes ("> "); bullet lists ("-"), ordered lists ("1." from the
//     list's start) and task lists ("- [ ]", "- [x]"), nested by indenting
//     to the item's content column. A list is tight unless an item holds
//     two blocks that are not lists; adjacent lists alternate their marker
//     ("-"/"*", "."/")") so they stay apart.
//   - marks: **bold**, *italic*, ~~strike~~, `code`, [links](href "title");
//     underline, highlight, subscript and superscript, which Markdown lacks,
//     as <u>, <mark>, <sub> and <sup> (ImportMarkdown reads them back).
//     Where the * or ~ delimiters would not parse back (say, bold ending in
//     punctuation right before a letter) the mark is written as its HTML
//     tag instead (<strong>, <em>, <s>). Spaces at the edges of bold, italic
//     and strike move outside the delimiters, as they must.
//   - hard breaks as a backslash before the newline (visible, and safe from
//     editors that strip trailing spaces); a hard break ending a paragraph
//     has no effect and is left out; in headings, <br>.
//   - images: ![alt](src "title").
//   - text is escaped so that it reads back as the same text: characters
//     Markdown gives meaning to get a backslash, line-leading and trailing
//     whitespace an entity (&#32;), entity look-alikes a backslash.
//   - links with unsafe URLs (see HTML) lose the link and keep their text;
//     images with unsafe sources keep an empty one. Empty paragraphs, which
//     Markdown cannot hold, are left out, but for an empty item of a nested
//     list, which holds "<!-- -->" (goldmark misreads a bare marker there;
//     ImportMarkdown drops comments).
//
// A plain Text is returned as it is.
func Markdown(doc *crdt.Doc, field string) (string, error) {
	r, err := read(doc, field)
	if err != nil || r == nil {
		return "", err
	}
	if r.plain {
		return r.text, nil
	}
	s := mdBlocks(r.doc, false)
	if s != "" {
		s += "\n"
	}
	return s, nil
}

// mdBlocks renders block content, blocks separated by a blank line.
// inItem tells whether the content is inside a list item.
func mdBlocks(ns []*node, inItem bool) string {
	var parts []string
	var lastList string // marker character of the list just written
	for _, n := range blocks(ns) {
		s, marker := mdBlock(n, lastList, inItem)
		if s == "" {
			continue // an empty paragraph; the list before it still counts
		}
		lastList = marker
		parts = append(parts, s)
	}
	return strings.Join(parts, "\n\n")
}

// mdBlock renders one block. For a list it also returns the marker it
// used, so that the next list can pick another.
func mdBlock(n *node, prevMarker string, inItem bool) (string, string) {
	switch n.typ {
	case tParagraph:
		return mdInline(n.content, false), ""
	case tHeading:
		h := strings.Repeat("#", headingLevel(n))
		if s := mdInline(n.content, true); s != "" {
			return h + " " + s, ""
		}
		return h, ""
	case tCodeBlock:
		return mdCode(n), ""
	case tBlockquote:
		inner := mdBlocks(n.content, inItem)
		lines := strings.Split(inner, "\n")
		for i, l := range lines {
			if l == "" {
				lines[i] = ">"
			} else {
				lines[i] = "> " + l
			}
		}
		return strings.Join(lines, "\n"), ""
	case tRule:
		return "---", ""
	case tImage:
		return mdImage(n), ""
	case tBulletList, tOrderedList, tTaskList:
		return mdList(n, prevMarker, inItem)
	}
	return "", ""
}

func mdCode(n *node) string {
	text := inlineText(n.content)
	lang, _ := attrString(n.attrs, "language")
	if f := strings.Fields(lang); len(f) > 0 {
		lang = mdEscapeInfo(f[0])
	} else {
		lang = ""
	}
	ch := "`"
	if strings.Contains(lang, "`") {
		ch = "~" // a backtick fence's info string cannot hold backticks
	}
	fence := strings.Repeat(ch, max(3, longestRun(text, ch[0])+1))
	if text == "" {
		return fence + lang + "\n" + fence
	}
	return fence + lang + "\n" + text + "\n" + fence
}

// mdEscapeInfo escapes what a fence's info string would unescape.
func mdEscapeInfo(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return entityLike.ReplaceAllString(s, `\${0}`)
}

func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

func mdList(n *node, prevMarker string, inItem bool) (string, string) {
	its := items(n)
	ordered := n.typ == tOrderedList
	marker := "-"
	if ordered {
		marker = "."
	}
	if marker == prevMarker {
		marker = map[string]string{"-": "*", ".": ")"}[marker]
	}
	start := 1
	if ordered {
		if s, ok := attrInt(n.attrs, "start"); ok && s >= 0 {
			start = min(s, 999999999-len(its))
		}
	}
	// Render the items' blocks first: a list is tight unless some item
	// holds two blocks where the second is not a list (two paragraphs in a
	// tight list would run together). Empty paragraphs do not count; they
	// are not written.
	bodies := make([][]mdPart, len(its))
	tight := true
	for i, it := range its {
		lastList := ""
		for _, b := range blocks(it.content) {
			s, m := mdBlock(b, lastList, true)
			if s == "" {
				continue
			}
			lastList = m
			if k := len(bodies[i]); k > 0 {
				if b.typ != tBulletList && b.typ != tOrderedList && b.typ != tTaskList {
					tight = false
				} else if !interrupts(s) {
					tight = false
				}
			}
			bodies[i] = append(bodies[i], mdPart{b, s})
		}
	}
	sep := "\n"
	if !tight {
		sep = "\n\n"
	}
	var out []string
	for i, it := range its {
		var prefix string
		indent := 2
		switch {
		case ordered:
			prefix = strconv.Itoa(start+i) + marker + " "
			indent = len(prefix)
		case it.typ == tTaskItem && attrBool(it.attrs, "checked"):
			prefix = marker + " [x] "
		case it.typ == tTaskItem:
			prefix = marker + " [ ] "
		default:
			prefix = marker + " "
		}
		if inItem && len(bodies[i]) == 0 && it.typ != tTaskItem {
			// goldmark misreads an empty item in a nested list when a blank
			// line and more of an outer item follow; a comment fills it
			// (ImportMarkdown drops comments).
			bodies[i] = []mdPart{{&node{typ: tParagraph}, emptyItem}}
		}
		out = append(out, mdItem(bodies[i], prefix, indent, sep))
	}
	return strings.Join(out, sep), marker
}

// interrupts reports whether a list may start right below a paragraph
// line: it must not begin with an empty item, and an ordered one must
// start at 1 (CommonMark 5.2).
func interrupts(list string) bool {
	first, _, _ := strings.Cut(list, "\n")
	if bareMarker.MatchString(first) {
		return false
	}
	if m := orderedMarker.FindStringSubmatch(first); m != nil && m[1] != "1" {
		return false
	}
	return true
}

var orderedMarker = regexp.MustCompile(`^([0-9]+)[.)]`)

// mdPart is a block of a list item and its Markdown.
type mdPart struct {
	n  *node
	md string
}

// mdItem writes a list item: the first block after the marker, the rest
// indented to the item's content column.
func mdItem(parts []mdPart, prefix string, indent int, sep string) string {
	head := strings.TrimRight(prefix, " ")
	if len(parts) == 0 {
		return head
	}
	mds := make([]string, len(parts))
	for i, p := range parts {
		mds[i] = p.md
	}
	inline := true
	switch parts[0].n.typ {
	case tParagraph:
	case tRule:
		inline = false // "- ---" is a rule
	case tBulletList, tOrderedList, tTaskList:
		// "- - a" nests a list. The marker on a line of its own would too,
		// but goldmark then reads a nested list of another kind as a list
		// of its own.
		first, _, _ := strings.Cut(mds[0], "\n")
		if thematicBreak.MatchString(prefix + first) {
			// "- - -" of empty items that go on below: the marker on its
			// own line (all three are "-", so the nested list is of the
			// outer one's kind).
			inline = false
		}
	}
	if strings.HasSuffix(prefix, "] ") && parts[0].n.typ != tParagraph {
		inline = false // a task item's checkbox belongs to a paragraph
	}
	pad := strings.Repeat(" ", indent)
	lines := strings.Split(strings.Join(mds, sep), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	if inline {
		lines[0] = prefix + lines[0][indent:]
		return strings.Join(lines, "\n")
	}
	if strings.HasSuffix(head, "]") {
		// "- [ ]" is a paragraph: a blank line keeps what follows out of it.
		return head + "\n\n" + strings.Join(lines, "\n")
	}
	return head + "\n" + strings.Join(lines, "\n")
}

func mdImage(n *node) string {
	src, _ := attrString(n.attrs, "src")
	if !safeImage(src) {
		src = ""
	}
	alt, _ := attrString(n.attrs, "alt")
	title, _ := attrString(n.attrs, "title")
	return "![" + mdEscape(strings.ReplaceAll(alt, "\n", " "), false, false) + "](" + mdDest(src, title) + ")"
}

// mdDest writes a link destination and optional title.
func mdDest(href, title string) string {
	href = destNewlines.Replace(href)
	var d string
	if href == "" {
		d = ""
	} else if strings.ContainsAny(href, " <>") || strings.ContainsFunc(href, unicode.IsControl) || !balancedParens(href) {
		d = "<" + destAngled.Replace(href) + ">"
	} else {
		d = destPlain.Replace(href)
	}
	d = entityLike.ReplaceAllString(d, `\${0}`)
	if title != "" {
		t := titleEscaper.Replace(title)
		t = entityLike.ReplaceAllString(t, `\${0}`)
		if d == "" {
			d = "<>"
		}
		d += ` "` + t + `"`
	}
	return d
}

// Replacers for link destinations, titles and code spans.
var (
	destNewlines     = strings.NewReplacer("\r", "%0D", "\n", "%0A")
	destAngled       = strings.NewReplacer(`\`, `\\`, "<", `\<`, ">", `\>`)
	destPlain        = strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`)
	titleEscaper     = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", " ", "\n", " ")
	newlinesToSpaces = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
)

func balancedParens(s string) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

var thematicBreak = regexp.MustCompile(`^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$`)

// bareMarker is a list item line without content.
var bareMarker = regexp.MustCompile(`^(?:[0-9]+[.)]|[-*+])$`)

// emptyItem is the content of an empty item in a nested list.
const emptyItem = "<!-- -->"

// entityLike matches what CommonMark reads as an entity or numeric
// character reference.
var (
	entityLike  = regexp.MustCompile(entityPattern)
	entityStart = regexp.MustCompile(`^` + entityPattern)
)

const entityPattern = `&(?:#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)`

// Inline rendering.

// mdMarks are the marks Markdown writes with delimiters or tags; others
// are dropped.
var mdMarks = map[string]bool{mLink: true, mBold: true, mItalic: true, mStrike: true, mCode: true, mUnderline: true, mHighlight: true, mSubscript: true, mSuperscript: true}

// emphasis marks are written with * or ~ delimiters that must be flanked
// by non-space to parse; the others use tags or brackets.
func emphasis(typ string) bool { return typ == mBold || typ == mItalic || typ == mStrike }

type tokKind uint8

const (
	tokText  tokKind = iota // escaped text
	tokRaw                  // a code span, an image, <br>
	tokBreak                // a hard break
	tokDelim                // a mark's opening or closing
)

type mdTok struct {
	kind tokKind
	s    string
	span *mdSpan
	open bool
}

type mdSpan struct {
	m    mark
	html bool   // written as HTML tags
	dest string // a link's "](href "title")"
}

func (s *mdSpan) delim(open bool) string {
	if s.m.typ == mLink {
		if open {
			return "["
		}
		if s.dest == "" {
			href, _ := attrString(s.m.attrs, "href")
			title, _ := attrString(s.m.attrs, "title")
			s.dest = "](" + mdDest(href, title) + ")"
		}
		return s.dest
	}
	if !s.html {
		switch s.m.typ {
		case mBold:
			return "**"
		case mItalic:
			return "*"
		case mStrike:
			return "~~"
		}
	}
	if open {
		return "<" + markTag(s.m.typ) + ">"
	}
	return "</" + markTag(s.m.typ) + ">"
}

// delimChar is the character of a delimiter run, 0 for tags and brackets.
func (s *mdSpan) delimChar() byte {
	if s.html {
		return 0
	}
	switch s.m.typ {
	case mBold, mItalic:
		return '*'
	case mStrike:
		return '~'
	}
	return 0
}

// mdLeaves prepares inline content for Markdown: text split at newlines
// into hard breaks, marks Markdown cannot write or must not (unsafe
// links) dropped, neighbours with the same marks merged, and whitespace at
// the edges of emphasis moved out of it.
func mdLeaves(ns []*node) []*node {
	var leaves []*node
	for _, n := range flattenInline(ns) {
		if n.typ != tText {
			leaves = append(leaves, n)
			continue
		}
		var ms []mark
		for _, m := range n.marks {
			if !mdMarks[m.typ] {
				continue
			}
			if m.typ == mLink {
				if h, _ := attrString(m.attrs, "href"); !safeLink(h) {
					continue
				}
			}
			ms = append(ms, m)
		}
		text := strings.ReplaceAll(strings.ReplaceAll(n.text, "\r\n", "\n"), "\r", "\n")
		for i, part := range strings.Split(text, "\n") {
			if i > 0 {
				leaves = append(leaves, &node{typ: tHardBreak})
			}
			if part != "" {
				leaves = append(leaves, &node{typ: tText, text: part, marks: ms})
			}
		}
	}
	leaves = mergeLeaves(leaves)
	// Hoist whitespace out of emphasis that opens or closes at it; a
	// neighbour's marks may change by its own hoisting, so repeat until
	// nothing moves.
	for {
		out, moved := hoist(leaves)
		leaves = mergeLeaves(out)
		if !moved {
			return leaves
		}
	}
}

func hoist(leaves []*node) (out []*node, moved bool) {
	for i, n := range leaves {
		if n.typ != tText || hasMark(n.marks, mCode) {
			out = append(out, n)
			continue
		}
		var prev, next []mark
		if i > 0 && leaves[i-1].typ == tText {
			prev = leaves[i-1].marks
		}
		if i+1 < len(leaves) && leaves[i+1].typ == tText {
			next = leaves[i+1].marks
		}
		body := n.text
		lead := body[:len(body)-len(strings.TrimLeftFunc(body, isMdSpace))]
		body = body[len(lead):]
		trail := body[len(strings.TrimRightFunc(body, isMdSpace)):]
		body = body[:len(body)-len(trail)]
		if lead != "" {
			ms := keepAcross(n.marks, prev)
			moved = moved || len(ms) != len(n.marks)
			out = append(out, &node{typ: tText, text: lead, marks: ms})
		}
		if body != "" {
			out = append(out, &node{typ: tText, text: body, marks: n.marks})
		}
		if trail != "" {
			ms := keepAcross(n.marks, next)
			moved = moved || len(ms) != len(n.marks)
			out = append(out, &node{typ: tText, text: trail, marks: ms})
		}
	}
	return out, moved
}

// keepAcross keeps the marks of ms that may cover whitespace next to a
// neighbour with marks other: all but emphasis that the neighbour lacks.
func keepAcross(ms, other []mark) []mark {
	var out []mark
	for _, m := range ms {
		if !emphasis(m.typ) || containsMark(other, m) {
			out = append(out, m)
		}
	}
	return out
}

func hasMark(ms []mark, typ string) bool {
	for _, m := range ms {
		if m.typ == typ {
			return true
		}
	}
	return false
}

func containsMark(ms []mark, m mark) bool {
	for _, x := range ms {
		if markEqual(x, m) {
			return true
		}
	}
	return false
}

func sameMarks(a, b []mark) bool {
	if len(a) != len(b) {
		return false
	}
	for _, m := range a {
		if !containsMark(b, m) {
			return false
		}
	}
	return true
}

func mergeLeaves(ls []*node) []*node {
	var out []*node
	for _, n := range ls {
		if k := len(out) - 1; k >= 0 && n.typ == tText && out[k].typ == tText && sameMarks(out[k].marks, n.marks) {
			out[k] = &node{typ: tText, text: out[k].text + n.text, marks: out[k].marks}
			continue
		}
		out = append(out, n)
	}
	return out
}

// mdInline renders inline content. In a heading, hard breaks are <br>.
func mdInline(ns []*node, heading bool) string {
	leaves := mdLeaves(ns)
	// Hard breaks at the end do nothing (and a trailing backslash would
	// read as text).
	for len(leaves) > 0 && leaves[len(leaves)-1].typ == tHardBreak {
		leaves = leaves[:len(leaves)-1]
	}
	var toks []mdTok
	var active []*mdSpan
	closeTo := func(k int) {
		for len(active) > k {
			toks = append(toks, mdTok{kind: tokDelim, span: active[len(active)-1]})
			active = active[:len(active)-1]
		}
	}
	for _, n := range leaves {
		if n.typ == tHardBreak {
			if heading {
				toks = append(toks, mdTok{kind: tokRaw, s: "<br>"})
			} else {
				toks = append(toks, mdTok{kind: tokBreak})
			}
			continue // marks stay open across a break
		}
		var want []mark
		for _, m := range n.marks {
			if m.typ != mCode {
				want = append(want, m)
			}
		}
		keep := 0
		for keep < len(active) && containsMark(want, active[keep].m) {
			keep++
		}
		closeTo(keep)
		for _, m := range want {
			open := false
			for _, a := range active {
				if markEqual(a.m, m) {
					open = true
				}
			}
			if !open {
				sp := &mdSpan{m: m}
				if !emphasis(m.typ) && m.typ != mLink {
					sp.html = true
				}
				active = append(active, sp)
				toks = append(toks, mdTok{kind: tokDelim, span: sp, open: true})
			}
		}
		switch {
		case n.typ == tImage:
			toks = append(toks, mdTok{kind: tokRaw, s: mdImage(n)})
		case hasMark(n.marks, mCode):
			toks = append(toks, mdTok{kind: tokRaw, s: mdCodeSpan(n.text)})
		default:
			toks = append(toks, mdTok{kind: tokText, s: n.text})
		}
	}
	closeTo(0)

	// Escape text, knowing where lines start and end.
	for i := range toks {
		if toks[i].kind != tokText {
			continue
		}
		start := i == 0 || toks[i-1].kind == tokBreak
		end := i == len(toks)-1 || toks[i+1].kind == tokBreak
		toks[i].s = mdEscape(toks[i].s, start, end)
		if i+1 < len(toks) && toks[i+1].kind == tokDelim && toks[i+1].open && toks[i+1].span.m.typ == mLink && strings.HasSuffix(toks[i].s, "!") {
			toks[i].s = toks[i].s[:len(toks[i].s)-1] + `\!` // "![" opens an image
		}
	}
	fixFlanking(toks)

	var sb strings.Builder
	for _, t := range toks {
		switch t.kind {
		case tokBreak:
			sb.WriteString("\\\n")
		case tokDelim:
			sb.WriteString(t.span.delim(t.open))
		default:
			sb.WriteString(t.s)
		}
	}
	s := sb.String()
	if heading {
		// A run of # at the end, after a space, would close the heading.
		trimmed := strings.TrimRight(s, "#")
		if len(trimmed) < len(s) && (trimmed == "" || strings.HasSuffix(trimmed, " ") || strings.HasSuffix(trimmed, "\t")) {
			s = trimmed + `\` + s[len(trimmed):]
		}
	}
	return s
}

// mdCodeSpan writes text as a code span, fenced with more backticks than
// it holds in a row.
func mdCodeSpan(text string) string {
	text = newlinesToSpaces.Replace(text)
	fence := strings.Repeat("`", longestRun(text, '`')+1)
	if strings.HasPrefix(text, "`") || strings.HasSuffix(text, "`") ||
		strings.HasPrefix(text, " ") && strings.HasSuffix(text, " ") && strings.Trim(text, " ") != "" {
		text = " " + text + " "
	}
	return fence + text + fence
}

// fixFlanking writes as HTML tags the emphasis whose * or ~ delimiters
// would not parse back: an opening run must be left-flanking and a closing
// run right-flanking (CommonMark 6.2), and not both, or it could pair with
// another run than its own; a run must not close one span and open
// another. (With no run both, the rule of 3 never applies.) Writing a span
// as tags changes its neighbours' context, so this repeats until stable.
func fixFlanking(toks []mdTok) {
	for changed := true; changed; {
		changed = false
		str := func(t mdTok) string {
			switch t.kind {
			case tokBreak:
				return "\n"
			case tokDelim:
				return t.span.delim(t.open)
			}
			return t.s
		}
		type run struct {
			from, to            int // tokens [from, to)
			left, right, opens  bool
			closes, both, empty bool
			length              int
		}
		runOf := make(map[int]*run)
		for i := 0; i < len(toks); {
			c := byte(0)
			if toks[i].kind == tokDelim {
				c = toks[i].span.delimChar()
			}
			if c == 0 {
				i++
				continue
			}
			r := &run{from: i}
			for i < len(toks) && toks[i].kind == tokDelim && toks[i].span.delimChar() == c {
				r.length += len(str(toks[i]))
				if toks[i].open {
					r.opens = true
				} else {
					r.closes = true
				}
				runOf[i] = r
				i++
			}
			r.to = i
			prev, next := ' ', ' '
			for j := r.from - 1; j >= 0; j-- {
				if s := str(toks[j]); s != "" {
					prev, _ = utf8.DecodeLastRuneInString(s)
					break
				}
			}
			for j := r.to; j < len(toks); j++ {
				if s := str(toks[j]); s != "" {
					next, _ = utf8.DecodeRuneInString(s)
					break
				}
			}
			r.left = !isMdSpace(next) && (!isMdPunct(next) || isMdSpace(prev) || isMdPunct(prev))
			r.right = !isMdSpace(prev) && (!isMdPunct(prev) || isMdSpace(next) || isMdPunct(next))
			r.both = r.left && r.right
			if prev == rune(c) || next == rune(c) {
				// Next to an escaped delimiter character: goldmark counts it
				// into the run.
				r.left, r.right = false, false
			}
		}
		toHTML := func(sp *mdSpan) {
			if !sp.html {
				sp.html = true
				changed = true
			}
		}
		for i, t := range toks {
			r := runOf[i]
			if r == nil || t.span.html {
				continue
			}
			switch {
			case r.both:
				// It could open or close: which, depends on what came
				// before, so it might pair with the wrong run.
				toHTML(t.span)
			case t.open && (!r.left || r.closes):
				toHTML(t.span)
			case !t.open && !r.right:
				toHTML(t.span)
			}
		}
	}
}

// isMdSpace is Unicode whitespace as CommonMark defines it, and what else
// goldmark (or Go) counts as space: erring towards space only costs a
// delimiter written as a tag, or a space moved out of a mark.
func isMdSpace(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Zs, r)
}

func isMdPunct(r rune) bool {
	if r < 0x80 {
		return strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", r)
	}
	return unicode.IsPunct(r) || unicode.IsSymbol(r)
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// mdEscape escapes text so that Markdown reads it back as the same text.
// start and end tell whether the text begins or ends a line.
func mdEscape(s string, start, end bool) string {
	var sb strings.Builder
	rs := []rune(s)
	lineStartDone := !start
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if !lineStartDone {
			lineStartDone = true
			switch {
			case isMdSpace(r):
				sb.WriteString("&#" + strconv.Itoa(int(r)) + ";")
				continue
			case strings.ContainsRune("#-+=>", r):
				sb.WriteByte('\\')
				sb.WriteRune(r)
				continue
			case r >= '0' && r <= '9':
				j := i
				for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
					j++
				}
				if j < len(rs) && (rs[j] == '.' || rs[j] == ')') {
					sb.WriteString(string(rs[i:j]))
					sb.WriteByte('\\')
					sb.WriteRune(rs[j])
					i = j
					continue
				}
			}
		}
		if end && i == len(rs)-1 {
			// Trailing whitespace would be stripped; and goldmark reads
			// "\\\" before a newline as text, not "\" and a hard break.
			if r == '\\' || isMdSpace(r) {
				sb.WriteString("&#" + strconv.Itoa(int(r)) + ";")
				continue
			}
		}
		switch r {
		case 0:
			r = '\uFFFD' // Markdown cannot hold NUL
		case '\\', '`', '*', '[', ']', '<', '~':
			sb.WriteByte('\\')
		case '_':
			if i == 0 || i == len(rs)-1 || !isAlnum(rs[i-1]) || !isAlnum(rs[i+1]) {
				sb.WriteByte('\\')
			}
		case '&':
			if entityStart.MatchString(string(rs[i:min(len(rs), i+40)])) {
				sb.WriteByte('\\')
			}
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
