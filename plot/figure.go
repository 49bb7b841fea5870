package plot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// DefaultDPI is the resolution of PNG output when Size.DPI is 0.
const DefaultDPI = 150

// DefaultSize is 16 cm by 10 cm at DefaultDPI.
var DefaultSize = Size{W: 16 * vg.Centimeter, H: 10 * vg.Centimeter, DPI: DefaultDPI}

// Formats are the output formats, named by the file extension.
var Formats = []string{"png", "svg", "pdf"}

// Size is a figure's size on the page and the resolution of PNG output.
type Size struct {
	W, H vg.Length
	DPI  int // dots per inch for PNG; 0 means DefaultDPI
}

// Bounds on a figure's size, so a typo cannot ask for a gigapixel image.
const (
	minSide   = 2 * vg.Centimeter
	maxSide   = 200 * vg.Centimeter
	maxPixels = 20000
)

// Check reports a size that is too small, too large, or has a bad DPI.
func (s Size) Check() error {
	for _, side := range []struct {
		name string
		v    vg.Length
	}{{"width", s.W}, {"height", s.H}} {
		if side.v < minSide || side.v > maxSide {
			return badInput("%s %.3gcm: want between %.0fcm and %.0fcm", side.name, side.v/vg.Centimeter, minSide/vg.Centimeter, maxSide/vg.Centimeter)
		}
	}
	if s.DPI < 0 || s.DPI > 1200 {
		return badInput("dpi %d: want 1 to 1200 (0 for the default %d)", s.DPI, DefaultDPI)
	}
	if w, h := s.Pixels(); w > maxPixels || h > maxPixels {
		return badInput("%dx%d pixels at %d dpi: want at most %d a side", w, h, s.dpi(), maxPixels)
	}
	return nil
}

func (s Size) dpi() int {
	if s.DPI == 0 {
		return DefaultDPI
	}
	return s.DPI
}

// Pixels returns the size of PNG output in pixels.
func (s Size) Pixels() (w, h int) {
	d := vg.Length(s.dpi())
	return int(s.W/vg.Inch*d + 0.5), int(s.H/vg.Inch*d + 0.5)
}

// ParseLength reads a length such as "16cm", "160mm", "6.3in" or "450pt".
// A bare number is in centimetres.
func ParseLength(s string) (vg.Length, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	unit := vg.Centimeter
	for _, u := range []struct {
		suffix string
		l      vg.Length
	}{{"cm", vg.Centimeter}, {"mm", vg.Millimeter}, {"in", vg.Inch}, {"pt", vg.Points(1)}} {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, unit = strings.TrimSpace(n), u.l
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || v != v || v > 1e6 {
		return 0, badInput("length %q: want a positive number with a unit cm, mm, in or pt (a bare number is cm)", s)
	}
	return vg.Length(v) * unit, nil
}

// Format returns the output format that file's extension names: png, svg or
// pdf. Any other extension is an *InputError.
func Format(file string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(file), "."))
	for _, f := range Formats {
		if ext == f {
			return f, nil
		}
	}
	return "", badInput("output %q: unknown format %q, want a file ending in .png, .svg or .pdf", file, ext)
}

// Figure is a finished drawing that can be written at any size, in any of
// the Formats. Render one Figure from one goroutine at a time.
type Figure struct {
	draw func(c draw.Canvas, note string)
	note string
}

// SetNote sets a line the figure shows under its title, in smaller grey
// type: what was selected to draw it, such as "best of 4 over train.lr on
// test". "" removes it. Figures drawn from bench rows (CostVsLength) show
// none.
func (f *Figure) SetNote(note string) { f.note = note }

// Note returns the figure's note.
func (f *Figure) Note() string { return f.note }

// Render writes the figure to w in format (png, svg or pdf) at size s.
func (f *Figure) Render(w io.Writer, format string, s Size) (err error) {
	if err := s.Check(); err != nil {
		return err
	}
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(s.W, s.H), vgimg.UseDPI(s.dpi()))}
	case "svg":
		c = vgsvg.New(s.W, s.H)
	case "pdf":
		c = vgpdf.New(s.W, s.H)
	default:
		return badInput("format %q: want one of %s", format, strings.Join(Formats, ", "))
	}
	defer func() { // gonum/plot panics on what it cannot draw
		if r := recover(); r != nil {
			err = fmt.Errorf("plot: drawing failed: %v", r)
		}
	}()
	f.draw(draw.New(c), f.note)
	if format == "svg" { // name fallbacks for viewers without the Liberation fonts
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			return fmt.Errorf("plot: write %s: %w", format, err)
		}
		if _, err := w.Write(fontFallbacks(buf.Bytes())); err != nil {
			return fmt.Errorf("plot: write %s: %w", format, err)
		}
		return nil
	}
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("plot: write %s: %w", format, err)
	}
	return nil
}

// Save writes the figure to file, its format taken from the extension. The
// figure is rendered in memory first, so a failure leaves no partial file.
func (f *Figure) Save(file string, s Size) error {
	format, err := Format(file)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := f.Render(&buf, format, s); err != nil {
		return err
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return &InputError{Msg: "plot: output: " + err.Error(), Err: err}
		}
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// svgFamily is a font-family declaration as gonum's SVG canvas writes it:
// one family name, such as "font-family:Liberation Sans;".
var svgFamily = regexp.MustCompile(`font-family:([^;"']+);`)

// fontFallbacks rewrites every font-family of an SVG into a list that ends
// in a generic family ("font-family:'Liberation Sans',Arial,Helvetica,
// sans-serif;"), so a viewer without the Liberation fonts draws the text in
// a font of the same kind and nearly the same width instead of its default
// serif.
func fontFallbacks(svg []byte) []byte {
	return svgFamily.ReplaceAllFunc(svg, func(m []byte) []byte {
		name := strings.TrimSpace(string(svgFamily.FindSubmatch(m)[1]))
		fallback := "Arial,Helvetica,sans-serif"
		switch low := strings.ToLower(name); {
		case strings.Contains(low, "mono"):
			fallback = "'Courier New',monospace"
		case strings.Contains(low, "serif") && !strings.Contains(low, "sans"):
			fallback = "'Times New Roman',Times,serif"
		}
		return []byte("font-family:'" + name + "'," + fallback + ";")
	})
}
