package tray

import "trayphone/assets"

// trayIconFor returns a Windows ICO on windows, where fyne.io/systray loads the icon with
// LoadImage(IMAGE_ICON) and refuses a PNG ("unable to set icon"), and the PNG of the nearest
// size elsewhere.
func trayIconFor(goos string, state assets.IconState, size int) []byte {
	if goos == "windows" {
		return assets.IconICO(state)
	}
	return assets.Icon(state, size)
}
