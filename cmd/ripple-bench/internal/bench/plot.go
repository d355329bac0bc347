package bench

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot is a curve a scenario draws next to its figures, where the shape
// says more than a table: written as a PNG beside the report (File) and
// kept as data in the JSON.
type Plot struct {
	File   string `json:"file"`
	Title  string `json:"title"`
	X      string `json:"x"`
	Y      string `json:"y"`
	LogX   bool   `json:"log_x,omitempty"`
	LogY   bool   `json:"log_y,omitempty"`
	Points bool   `json:"points,omitempty"` // markers only, no lines
	Lines  []Line `json:"lines"`
}

// Line is one named series of a Plot.
type Line struct {
	Name string       `json:"name"`
	XY   [][2]float64 `json:"xy"`
}

// line returns the plot's line called name, adding it if missing.
func (p *Plot) line(name string) *Line {
	for i := range p.Lines {
		if p.Lines[i].Name == name {
			return &p.Lines[i]
		}
	}
	p.Lines = append(p.Lines, Line{Name: name})
	return &p.Lines[len(p.Lines)-1]
}

func (s *Scenario) plot(p *Plot) *Plot {
	s.Plots = append(s.Plots, p)
	return p
}

// plotFile returns the scenario's plot written to file, made by mk when
// the scenario has none yet.
func (s *Scenario) plotFile(file string, mk func() *Plot) *Plot {
	for _, p := range s.Plots {
		if p.File == file {
			return p
		}
	}
	p := mk()
	p.File = file
	return s.plot(p)
}

// WritePlots renders every scenario's plots as PNG files into dir.
func (r *Report) WritePlots(dir string) error {
	for _, s := range r.Scenarios {
		for _, p := range s.Plots {
			if err := p.render(filepath.Join(dir, p.File)); err != nil {
				return fmt.Errorf("plot %s: %w", p.File, err)
			}
		}
	}
	return nil
}

// palette is a colour-blind-safe set (Okabe–Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{213, 94, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{86, 180, 233, 255},
	color.RGBA{0, 0, 0, 255},
}

func (p *Plot) render(path string) error {
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.X.Label.Text = p.X
	pl.Y.Label.Text = p.Y
	if p.LogX {
		pl.X.Scale, pl.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	if p.LogY {
		pl.Y.Scale, pl.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	pl.Add(plotter.NewGrid())
	pl.Legend.Top = true
	pl.Legend.Left = true
	for i, l := range p.Lines {
		xy := make(plotter.XYs, 0, len(l.XY))
		for _, pt := range l.XY {
			// A log axis cannot show zero or less.
			if p.LogX && pt[0] <= 0 || p.LogY && pt[1] <= 0 || math.IsNaN(pt[0]) || math.IsNaN(pt[1]) {
				continue
			}
			xy = append(xy, plotter.XY{X: pt[0], Y: pt[1]})
		}
		if len(xy) == 0 {
			continue
		}
		sort.SliceStable(xy, func(a, b int) bool { return xy[a].X < xy[b].X })
		c := palette[i%len(palette)]
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return err
		}
		sc.GlyphStyle.Color = c
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Radius = vg.Points(2.5)
		if p.Points {
			sc.GlyphStyle.Radius = vg.Points(1)
			pl.Add(sc)
			pl.Legend.Add(l.Name, sc)
			continue
		}
		ln, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		ln.Color, ln.Width = c, vg.Points(1.5)
		pl.Add(ln, sc)
		pl.Legend.Add(l.Name, ln, sc)
	}
	return pl.Save(16*vg.Centimeter, 10*vg.Centimeter, path)
}
