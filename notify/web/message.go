package web

import (
	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify"
	"github.com/goodturn/goodturn/rules"
)

// shownMessage is a message as the review page shows it: every part the
// customer receives, with the email's From and HTML part and the SMS's
// length and cost in segments.
type shownMessage struct {
	message
	// From is the email's sender, as serve is configured; "" when not
	// known to the page.
	From string
	// HTML is the email's HTML part, made from its text part exactly as
	// the outbox makes it.
	HTML string
	// SMSSize measures the SMS.
	SMSSize smsSize
}

// showMessage renders p's message for its customer (renderMessage) and
// adds what the outbox adds: the From and the HTML part.
func (s *Server) showMessage(r *rules.Rule, p store.Proposal, cust rules.Customer) shownMessage {
	m := shownMessage{message: renderMessage(r, p, cust), From: s.cfg.From}
	if m.Err == "" && m.Subject != "" {
		m.HTML = notify.TextToHTML(m.Text)
	}
	if m.SMS != "" {
		m.SMSSize = measureSMS(m.SMS)
	}
	return m
}

// smsSize is an SMS's length and how many segments it is billed as.
type smsSize struct {
	// Encoding is GSM-7 when every character is in the GSM 03.38
	// alphabet, UCS-2 otherwise.
	Encoding string
	// Units is the length in the encoding's units: GSM-7 septets (an
	// extension character such as € takes two) or UTF-16 code units.
	Units    int
	Segments int
	// PerSegment is how many units fit one segment of a message of this
	// many segments: 160 (GSM-7) or 70 (UCS-2) alone, 153 or 67 each when
	// concatenated.
	PerSegment int
}

// gsmBasic is the GSM 03.38 basic character set; gsmExtension the
// characters that take an escape and so two septets.
const (
	gsmBasic     = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "^{}\\[~]|€\f"
)

var gsmUnits = func() map[rune]int {
	m := map[rune]int{}
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// measureSMS measures an SMS as a carrier bills it.
func measureSMS(text string) smsSize {
	gsm := 0
	for _, r := range text {
		n, ok := gsmUnits[r]
		if !ok {
			gsm = -1
			break
		}
		gsm += n
	}
	size := smsSize{Encoding: "GSM-7", Units: gsm, PerSegment: 160}
	multi := 153
	if gsm < 0 {
		size = smsSize{Encoding: "UCS-2", PerSegment: 70}
		multi = 67
		for _, r := range text {
			size.Units++
			if r > 0xFFFF {
				size.Units++ // a surrogate pair
			}
		}
	}
	switch {
	case size.Units == 0:
		size.Segments = 0
	case size.Units <= size.PerSegment:
		size.Segments = 1
	default:
		size.PerSegment = multi
		size.Segments = (size.Units + multi - 1) / multi
	}
	return size
}
