package message

// HTMLText renders an HTML body as plain text, safely: nothing is fetched
// or run. See HTMLTextLimit; HTMLText has no bound on the text.
func HTMLText(src string) string { return HTMLTextLimit(src, 0) }

// HTMLTextLimit renders an HTML body as plain text, safely: nothing is
// fetched or run. It is the text of HTMLDocument's Doc: scripts, styles,
// frames, forms and the head are dropped, blocks become lines, list items
// bullets, links are shown as their words followed by their address in
// angle brackets, images by their alternative text ("[image: logo]") and
// remote images by a placeholder naming their host; they are counted in a
// last line saying they were not loaded. With max > 0 the text stops after
// about max bytes, ending with "…".
func HTMLTextLimit(src string, max int) string {
	o := HTMLOptions{MaxText: -1, MaxBlocks: -1}
	if max > 0 {
		o = HTMLOptions{MaxText: max}
	}
	return HTMLDocument(src, o).Text()
}
