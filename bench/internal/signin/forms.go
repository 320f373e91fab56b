package signin

import (
	"html"
	"strings"
)

// Form is one HTML <form> as a browser would submit it: its action and
// method, the successful controls it would send (hidden and text inputs,
// checked boxes), and the buttons that can submit it.
type Form struct {
	Action  string
	Method  string // "GET" or "POST"
	Fields  []Field
	Buttons []Button
}

// Field is one named form control.
type Field struct {
	Name, Value, Type string
}

// Button is a submit control: <button> (type submit, the default) or
// <input type=submit>. Its Name and Value are sent only when it is the one
// clicked (HTML Living Standard, 4.10.21.4 "Constructing the entry list").
type Button struct {
	Name, Value, Text string
}

// Link is an <a href> with its text.
type Link struct {
	Href, Text string
}

// ParseForms scans page for forms and links. It is a small tokenizer for
// the few elements a sign-in or consent page uses, not a full HTML parser:
// it understands tags with quoted or bare attributes, comments, and skips
// the contents of <script> and <style>.
func ParseForms(page string) ([]Form, []Link) {
	var forms []Form
	var links []Link
	var cur *Form   // the open form, if any
	var btn *Button // the open <button>, collecting its text
	var link *Link  // the open <a>, collecting its text
	var text strings.Builder
	flushText := func() string {
		s := strings.Join(strings.Fields(html.UnescapeString(text.String())), " ")
		text.Reset()
		return s
	}
	for i := 0; i < len(page); {
		lt := strings.IndexByte(page[i:], '<')
		if lt < 0 {
			text.WriteString(page[i:])
			break
		}
		text.WriteString(page[i : i+lt])
		i += lt
		if strings.HasPrefix(page[i:], "<!--") {
			end := strings.Index(page[i+4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3
			continue
		}
		name, attrs, closing, next := readTag(page, i)
		if next <= i { // not a tag: a stray '<'
			text.WriteByte('<')
			i++
			continue
		}
		i = next
		switch {
		case !closing && (name == "script" || name == "style"):
			end := strings.Index(strings.ToLower(page[i:]), "</"+name)
			if end < 0 {
				i = len(page)
			} else {
				i += end
			}
		case name == "form" && !closing:
			method := strings.ToUpper(attrs["method"])
			if method != "POST" {
				method = "GET"
			}
			forms = append(forms, Form{Action: attrs["action"], Method: method})
			cur = &forms[len(forms)-1]
		case name == "form" && closing:
			cur = nil
		case name == "input" && !closing && cur != nil:
			typ := strings.ToLower(attrs["type"])
			if typ == "" {
				typ = "text"
			}
			_, checked := attrs["checked"]
			_, disabled := attrs["disabled"]
			switch {
			case disabled:
			case typ == "submit":
				cur.Buttons = append(cur.Buttons, Button{Name: attrs["name"], Value: attrs["value"], Text: attrs["value"]})
			case typ == "checkbox" || typ == "radio":
				if checked && attrs["name"] != "" {
					v, ok := attrs["value"]
					if !ok {
						v = "on"
					}
					cur.Fields = append(cur.Fields, Field{attrs["name"], v, typ})
				}
			case typ == "button" || typ == "reset" || typ == "image" || typ == "file":
			default:
				if attrs["name"] != "" {
					cur.Fields = append(cur.Fields, Field{attrs["name"], attrs["value"], typ})
				}
			}
		case name == "button" && !closing:
			typ := strings.ToLower(attrs["type"])
			if typ == "" || typ == "submit" {
				flushText()
				btn = &Button{Name: attrs["name"], Value: attrs["value"]}
			}
		case name == "button" && closing:
			if btn != nil {
				btn.Text = flushText()
				if cur != nil {
					cur.Buttons = append(cur.Buttons, *btn)
				}
				btn = nil
			}
		case name == "a" && !closing:
			if href, ok := attrs["href"]; ok {
				flushText()
				link = &Link{Href: href}
			}
		case name == "a" && closing:
			if link != nil {
				link.Text = flushText()
				links = append(links, *link)
				link = nil
			}
		}
	}
	return forms, links
}

// readTag reads the tag starting at page[i] == '<'. It returns the lower-case
// name, the attributes (values unescaped; a bare attribute maps to ""),
// whether it is an end tag, and the index after '>'; next == i means page[i]
// does not start a tag.
func readTag(page string, i int) (name string, attrs map[string]string, closing bool, next int) {
	j := i + 1
	if j < len(page) && page[j] == '/' {
		closing = true
		j++
	}
	start := j
	for j < len(page) && isNameByte(page[j]) {
		j++
	}
	if j == start {
		if j < len(page) && page[j] == '!' { // doctype and the like
			if end := strings.IndexByte(page[j:], '>'); end >= 0 {
				return "!", nil, false, j + end + 1
			}
		}
		return "", nil, false, i
	}
	name = strings.ToLower(page[start:j])
	attrs = map[string]string{}
	for j < len(page) {
		for j < len(page) && (isSpace(page[j]) || page[j] == '/') {
			j++
		}
		if j >= len(page) {
			break
		}
		if page[j] == '>' {
			return name, attrs, closing, j + 1
		}
		as := j
		for j < len(page) && !isSpace(page[j]) && page[j] != '=' && page[j] != '>' && page[j] != '/' {
			j++
		}
		an := strings.ToLower(page[as:j])
		for j < len(page) && isSpace(page[j]) {
			j++
		}
		if j >= len(page) || page[j] != '=' {
			if an != "" {
				attrs[an] = ""
			}
			continue
		}
		j++ // '='
		for j < len(page) && isSpace(page[j]) {
			j++
		}
		var v string
		if j < len(page) && (page[j] == '"' || page[j] == '\'') {
			q := page[j]
			end := strings.IndexByte(page[j+1:], q)
			if end < 0 {
				return name, attrs, closing, len(page)
			}
			v = page[j+1 : j+1+end]
			j += end + 2
		} else {
			vs := j
			for j < len(page) && !isSpace(page[j]) && page[j] != '>' {
				j++
			}
			v = page[vs:j]
		}
		if _, dup := attrs[an]; !dup { // the first of duplicate attributes wins
			attrs[an] = html.UnescapeString(v)
		}
	}
	return name, attrs, closing, len(page)
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == ':'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
