// Package assets holds Herald's embedded resources: the application icon.
package assets

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

//go:embed icon.png
var iconPNG []byte

// Icon is Herald's application icon (256×256 PNG).
var Icon = fyne.NewStaticResource("icon.png", iconPNG)
