package fastsqs

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	randv2 "math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// attrValue is a message attribute as the wire carries it.
type attrValue struct {
	DataType         string   `json:"DataType"`
	StringValue      *string  `json:"StringValue,omitempty"`
	BinaryValue      []byte   `json:"BinaryValue,omitempty"`
	StringListValues []string `json:"StringListValues,omitempty"`
	BinaryListValues [][]byte `json:"BinaryListValues,omitempty"`
}

// Limits on message attributes.
const (
	maxMessageAttributes = 10
	maxAttrNameLen       = 256
	maxIDLen             = 128 // MessageGroupId, MessageDeduplicationId
)

var (
	attrNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	// groupIDPattern: alphanumerics and ASCII punctuation.
	groupIDPattern = regexp.MustCompile("^[A-Za-z0-9!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]+$")
	batchIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
)

// checkAttributes validates message attributes and returns their size
// (names, types and values count toward the message size).
func checkAttributes(attrs map[string]attrValue) (int, *sqsError) {
	if len(attrs) > maxMessageAttributes {
		return 0, errInvalidParameter("Number of message attributes [%d] exceeds the allowed maximum [%d].", len(attrs), maxMessageAttributes)
	}
	size := 0
	for name, v := range attrs {
		lower := strings.ToLower(name)
		if len(name) > maxAttrNameLen || !attrNamePattern.MatchString(name) || strings.HasPrefix(name, ".") ||
			strings.HasSuffix(name, ".") || strings.Contains(name, "..") ||
			strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") {
			return 0, errInvalidParameter("Message (user) attribute name '%s' is invalid.", name)
		}
		base, _, _ := strings.Cut(v.DataType, ".")
		switch base {
		case "String", "Number":
			if v.StringValue == nil || *v.StringValue == "" {
				return 0, errInvalidParameter("Message (user) attribute '%s' must contain a non-empty value of type '%s'.", name, base)
			}
			if !validChars(*v.StringValue) {
				return 0, errInvalidMessageContents()
			}
			if base == "Number" {
				if _, err := strconv.ParseFloat(*v.StringValue, 64); err != nil {
					return 0, errInvalidParameter("Message (user) attribute '%s' has an invalid numeric value.", name)
				}
			}
			size += len(*v.StringValue)
		case "Binary":
			if len(v.BinaryValue) == 0 {
				return 0, errInvalidParameter("Message (user) attribute '%s' must contain a non-empty value of type 'Binary'.", name)
			}
			size += len(v.BinaryValue)
		default:
			return 0, errInvalidParameter("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
		}
		if len(v.StringListValues) > 0 || len(v.BinaryListValues) > 0 {
			return 0, errInvalidParameter("Message (user) attribute '%s': list values are not supported.", name)
		}
		size += len(name) + len(v.DataType)
	}
	return size, nil
}

// validChars reports whether s holds only the characters SQS accepts in a
// message: #x9, #xA, #xD, #x20–#xD7FF, #xE000–#xFFFD, #x10000–#x10FFFF.
func validChars(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x80 {
			i++
			continue
		}
		if c == 0x9 || c == 0xA || c == 0xD {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return false
		case r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
		i += n
	}
	return true
}

// md5Hex is the hex MD5 of s (MD5OfMessageBody).
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// md5OfAttributes is SQS's digest of message attributes: for each
// attribute in name order, the name, the data type and the value, each
// preceded by its length as a 4-byte big-endian integer, with a transport
// byte (1 for String and Number, 2 for Binary) before the value. Empty
// for no attributes.
func md5OfAttributes(attrs map[string]attrValue) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := md5.New()
	var lenBuf [4]byte
	writeLen := func(b []byte) {
		binary.BigEndian.PutUint32(lenBuf[:], uint32(len(b)))
		h.Write(lenBuf[:])
		h.Write(b)
	}
	for _, n := range names {
		v := attrs[n]
		writeLen([]byte(n))
		writeLen([]byte(v.DataType))
		if v.StringValue != nil {
			h.Write([]byte{1})
			writeLen([]byte(*v.StringValue))
		} else {
			h.Write([]byte{2})
			writeLen(v.BinaryValue)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// selectAttributes returns the attributes MessageAttributeNames asks for:
// "All" or ".*" for all, "prefix.*" for a prefix, else exact names.
func selectAttributes(attrs map[string]attrValue, names []string) map[string]attrValue {
	if len(attrs) == 0 || len(names) == 0 {
		return nil
	}
	var out map[string]attrValue
	add := func(k string, v attrValue) {
		if out == nil {
			out = make(map[string]attrValue, len(attrs))
		}
		out[k] = v
	}
	for _, want := range names {
		if want == "All" || want == ".*" {
			return attrs
		}
		if prefix, ok := strings.CutSuffix(want, ".*"); ok {
			for k, v := range attrs {
				if strings.HasPrefix(k, prefix+".") || k == prefix {
					add(k, v)
				}
			}
			continue
		}
		if v, ok := attrs[want]; ok {
			add(want, v)
		}
	}
	return out
}

// newMessageID returns a random UUID (version 4), the shape of SQS message
// ids.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// formatSeq renders a FIFO sequence number as SQS does: 20 digits.
func formatSeq(n uint64) string {
	return fmt.Sprintf("%020d", n)
}

// Receipt handles are opaque to clients; fastsqs packs into one the queue
// (its uid, so a re-created queue refuses old handles), the message and the
// receive it was issued for, plus random bytes so that no two handles are
// alike.
const handleMagic = "fsq1"

type receipt struct {
	queue   uint64
	message uint64
	receive uint32
}

func (r receipt) encode() string {
	var b [4 + 8 + 8 + 4 + 8]byte
	copy(b[:4], handleMagic)
	binary.BigEndian.PutUint64(b[4:], r.queue)
	binary.BigEndian.PutUint64(b[12:], r.message)
	binary.BigEndian.PutUint32(b[20:], r.receive)
	binary.BigEndian.PutUint64(b[24:], randv2.Uint64())
	return base64.StdEncoding.EncodeToString(b[:])
}

func decodeReceipt(s string) (receipt, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 || string(b[:4]) != handleMagic {
		return receipt{}, false
	}
	return receipt{
		queue:   binary.BigEndian.Uint64(b[4:]),
		message: binary.BigEndian.Uint64(b[12:]),
		receive: binary.BigEndian.Uint32(b[20:]),
	}, true
}
