package render

import (
	"regexp"
	"strings"
)

// unicodeSpace is what Tiptap (after DOMPurify) strips from a URL before
// judging it: browsers ignore these characters in a scheme.
var unicodeSpace = regexp.MustCompile("[\u0000-\u0020\u00A0\u1680\u180E\u2000-\u2029\u205F\u3000]")

// allowedLink is Tiptap's isAllowedUri (extension-link): an allowed scheme,
// or no scheme at all (a relative URL, a fragment, "example.com/x").
var allowedLink = regexp.MustCompile(`(?i)^(?:(?:https?|ftps?|mailto|tel|callto|sms|cid|xmpp):|[^a-z]|[a-z0-9+.\-]+(?:[^a-z+.\-:]|$))`)

// safeLink reports whether a link target may be written out as it is:
// javascript:, vbscript:, data: and other schemes that run code or are
// unknown are refused, as Tiptap refuses them.
func safeLink(u string) bool {
	return u == "" || allowedLink.MatchString(unicodeSpace.ReplaceAllString(u, ""))
}

var (
	hasScheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.\-]*:`)
	dataImage = regexp.MustCompile(`(?i)^data:image/(?:png|gif|jpe?g|webp|avif)[;,]`)
)

// safeImage reports whether an image source may be written out: a
// relative URL, http(s), or a data: URL of a raster image type.
func safeImage(u string) bool {
	s := unicodeSpace.ReplaceAllString(u, "")
	if !hasScheme.MatchString(s) {
		return true
	}
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http:") || strings.HasPrefix(l, "https:") || dataImage.MatchString(s)
}
