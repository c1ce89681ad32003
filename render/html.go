package render

import (
	"regexp"
	"strings"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/crdt/lib0"
)

// HTML renders a root as HTML. An XmlFragment (or rich Text) becomes what
// Tiptap's editor.getHTML() gives for the same document: p, h1-h6, ul, ol
// (start, type), li, task lists as Tiptap's TaskList and TaskItem render them
// (ul data-type="taskList", li data-checked data-type="taskItem" with its
// checkbox), blockquote, pre>code class="language-x", hr, br, img, and the
// marks strong, em, s, code, u, mark, sub, sup and a (target, rel, href,
// title). Text and attribute values are escaped as a browser serializes
// them, so the output never carries markup from the document. Links to
// unsafe URLs (javascript: and other schemes Tiptap refuses) keep their
// text with href=""; images with unsafe sources lose their src. A plain
// Text becomes its text, escaped, in <pre>.
func HTML(doc *crdt.Doc, field string) (string, error) {
	r, err := read(doc, field)
	if err != nil || r == nil {
		return "", err
	}
	if r.plain {
		return "<pre>" + escapeText(r.text) + "</pre>", nil
	}
	var w htmlWriter
	w.blocks(r.doc)
	return w.sb.String(), nil
}

type htmlWriter struct {
	sb strings.Builder
}

func (w *htmlWriter) s(s string) { w.sb.WriteString(s) }

// attr writes name="value" when value is set.
func (w *htmlWriter) attr(name string, v string, ok bool) {
	if !ok {
		return
	}
	w.s(" " + name + `="` + escapeAttr(v) + `"`)
}

func (w *htmlWriter) blocks(ns []*node) {
	for _, n := range blocks(ns) {
		w.block(n)
	}
}

func (w *htmlWriter) block(n *node) {
	switch n.typ {
	case tParagraph:
		w.s("<p>")
		w.inline(n.content)
		w.s("</p>")
	case tHeading:
		h := "h" + string(rune('0'+headingLevel(n)))
		w.s("<" + h + ">")
		w.inline(n.content)
		w.s("</" + h + ">")
	case tCodeBlock:
		w.s("<pre><code")
		lang, ok := attrString(n.attrs, "language")
		w.attr("class", "language-"+lang, ok && lang != "")
		w.s(">" + escapeText(inlineText(n.content)) + "</code></pre>")
	case tBlockquote:
		w.s("<blockquote>")
		w.blocks(n.content)
		w.s("</blockquote>")
	case tRule:
		w.s("<hr>")
	case tImage:
		w.image(n)
	case tBulletList:
		w.s("<ul>")
		w.items(n)
		w.s("</ul>")
	case tOrderedList:
		w.s("<ol")
		if start, ok := attrInt(n.attrs, "start"); ok && start != 1 {
			w.attr("start", lib0.NumberToString(float64(start)), true)
		}
		if typ, ok := attrString(n.attrs, "type"); ok && typ != "" && typ != "1" {
			w.attr("type", typ, true)
		}
		w.s(">")
		w.items(n)
		w.s("</ol>")
	case tTaskList:
		w.s(`<ul data-type="taskList">`)
		w.items(n)
		w.s("</ul>")
	}
}

func (w *htmlWriter) items(list *node) {
	for _, it := range items(list) {
		if it.typ == tTaskItem {
			checked := attrBool(it.attrs, "checked")
			if checked {
				w.s(`<li data-checked="true" data-type="taskItem"><label><input type="checkbox" checked="checked"><span></span></label><div>`)
			} else {
				w.s(`<li data-checked="false" data-type="taskItem"><label><input type="checkbox"><span></span></label><div>`)
			}
			w.blocks(it.content)
			w.s("</div></li>")
			continue
		}
		w.s("<li>")
		w.blocks(it.content)
		w.s("</li>")
	}
}

func (w *htmlWriter) image(n *node) {
	w.s("<img")
	src, ok := attrString(n.attrs, "src")
	w.attr("src", src, ok && safeImage(src))
	for _, k := range []string{"alt", "title", "width", "height"} {
		v, ok := attrString(n.attrs, k)
		w.attr(k, v, ok)
	}
	w.s(">")
}

// inline writes inline content as ProseMirror's DOMSerializer does: a mark
// stays open across neighbouring nodes that share it, so marks nest in
// rank order where they start together.
func (w *htmlWriter) inline(ns []*node) {
	var active []mark
	for _, n := range flattenInline(ns) {
		keep := 0
		for keep < len(active) && keep < len(n.marks) && markEqual(n.marks[keep], active[keep]) {
			keep++
		}
		for len(active) > keep {
			w.closeMark(active[len(active)-1])
			active = active[:len(active)-1]
		}
		for _, m := range n.marks[keep:] {
			w.openMark(m)
			active = append(active, m)
		}
		switch n.typ {
		case tText:
			w.s(escapeText(n.text))
		case tHardBreak:
			w.s("<br>")
		case tImage:
			w.image(n)
		}
	}
	for len(active) > 0 {
		w.closeMark(active[len(active)-1])
		active = active[:len(active)-1]
	}
}

// flattenInline returns the inline leaves of content: text, hard breaks
// and images; unknown inline nodes contribute their own content.
func flattenInline(ns []*node) []*node {
	var out []*node
	for _, n := range ns {
		switch n.typ {
		case tText, tHardBreak, tImage:
			out = append(out, n)
		default:
			out = append(out, flattenInline(n.content)...)
		}
	}
	return out
}

// linkDefaults are Tiptap's Link HTMLAttributes option, which getHTML
// merges under the mark's own attributes.
var linkDefaults = []struct{ k, v string }{{"target", "_blank"}, {"rel", "noopener noreferrer nofollow"}}

func (w *htmlWriter) openMark(m mark) {
	switch m.typ {
	case mLink:
		w.s("<a")
		// mergeAttributes(HTMLAttributes option, mark attrs): the option's
		// keys first, each overridden by the mark's value when it has one
		// (null removes it), then the mark's href and title.
		for _, d := range linkDefaults {
			v, present := attrGet(m.attrs, d.k)
			if !present {
				w.attr(d.k, d.v, true)
				continue
			}
			s, ok := anyString(v)
			w.attr(d.k, s, ok)
		}
		cls, ok := attrString(m.attrs, "class")
		w.attr("class", cls, ok)
		href, ok := attrString(m.attrs, "href")
		if ok && !safeLink(href) {
			href = ""
		}
		w.attr("href", href, ok)
		title, ok := attrString(m.attrs, "title")
		w.attr("title", title, ok)
		w.s(">")
	case mHighlight:
		w.s("<mark")
		if c, ok := attrString(m.attrs, "color"); ok && cssColor.MatchString(c) {
			w.attr("data-color", c, true)
			w.attr("style", "background-color: "+c+"; color: inherit", true)
		}
		w.s(">")
	default:
		w.s("<" + markTag(m.typ) + ">")
	}
}

// cssColor is what a highlight colour may be (a name, #hex, rgb(...),
// hsl(...)); anything else could carry other CSS and is left out.
var cssColor = regexp.MustCompile(`^[#a-zA-Z0-9(),.% -]{1,64}$`)

func (w *htmlWriter) closeMark(m mark) { w.s("</" + markTag(m.typ) + ">") }

func markTag(typ string) string {
	switch typ {
	case mLink:
		return "a"
	case mBold:
		return "strong"
	case mItalic:
		return "em"
	case mStrike:
		return "s"
	case mCode:
		return "code"
	case mUnderline:
		return "u"
	case mHighlight:
		return "mark"
	case mSubscript:
		return "sub"
	case mSuperscript:
		return "sup"
	}
	return "span"
}

// escapeText escapes text content as a browser's innerHTML serializes it
// (&, <, >, no-break space), NUL made U+FFFD as an HTML parser would.
func escapeText(s string) string { return htmlEscaper.Replace(s) }

// escapeAttr escapes a double-quoted attribute value: &, ", < and > (as
// current browsers serialize them) and the no-break space.
func escapeAttr(s string) string { return attrEscaper.Replace(s) }

var (
	htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;", "\x00", "\ufffd")
	attrEscaper = strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;", "\x00", "\ufffd")
)
