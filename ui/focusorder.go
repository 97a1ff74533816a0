package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
)

// borderInOrder is container.NewBorder with its objects in visual order:
// top, left, centre, right, bottom. Fyne moves the focus (Tab, Shift+Tab)
// in the order of a container's objects, and NewBorder puts the centre
// first, so Tab from the last field above a form's centre would skip it.
func borderInOrder(top, bottom, left, right fyne.CanvasObject, center ...fyne.CanvasObject) *fyne.Container {
	objs := make([]fyne.CanvasObject, 0, 4+len(center))
	add := func(o fyne.CanvasObject) {
		if o != nil {
			objs = append(objs, o)
		}
	}
	add(top)
	add(left)
	for _, o := range center {
		add(o)
	}
	add(right)
	add(bottom)
	return container.New(layout.NewBorderLayout(top, bottom, left, right), objs...)
}
