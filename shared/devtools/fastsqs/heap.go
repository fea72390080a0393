package fastsqs

// indexedHeap is a binary min-heap whose elements remember their position
// (through index), so that any element can be removed or moved after its key
// changed in O(log n). An element out of the heap has index -1.
type indexedHeap[T comparable] struct {
	items []T
	less  func(a, b T) bool
	index func(T) *int
}

func (h *indexedHeap[T]) len() int { return len(h.items) }

// peek returns the smallest element without removing it.
func (h *indexedHeap[T]) peek() (T, bool) {
	if len(h.items) == 0 {
		var zero T
		return zero, false
	}
	return h.items[0], true
}

func (h *indexedHeap[T]) push(x T) {
	*h.index(x) = len(h.items)
	h.items = append(h.items, x)
	h.up(len(h.items) - 1)
}

// pop removes and returns the smallest element.
func (h *indexedHeap[T]) pop() (T, bool) {
	x, ok := h.peek()
	if ok {
		h.remove(x)
	}
	return x, ok
}

// contains reports whether x is in the heap.
func (h *indexedHeap[T]) contains(x T) bool {
	i := *h.index(x)
	return i >= 0 && i < len(h.items) && h.items[i] == x
}

// remove takes x out of the heap; it is a no-op for an element not in it.
func (h *indexedHeap[T]) remove(x T) {
	if !h.contains(x) {
		return
	}
	i, last := *h.index(x), len(h.items)-1
	if i != last {
		h.swap(i, last)
	}
	var zero T
	h.items[last] = zero
	h.items = h.items[:last]
	*h.index(x) = -1
	if i != last {
		h.fix(i)
	}
}

// update restores the order after x's key changed.
func (h *indexedHeap[T]) update(x T) {
	if h.contains(x) {
		h.fix(*h.index(x))
	}
}

// clear empties the heap, marking every element as out of it.
func (h *indexedHeap[T]) clear() {
	var zero T
	for i, x := range h.items {
		*h.index(x) = -1
		h.items[i] = zero
	}
	h.items = h.items[:0]
}

func (h *indexedHeap[T]) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h *indexedHeap[T]) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	*h.index(h.items[i]) = i
	*h.index(h.items[j]) = j
}

func (h *indexedHeap[T]) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(h.items[i], h.items[parent]) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

// down sifts i toward the leaves and reports whether it moved.
func (h *indexedHeap[T]) down(i int) bool {
	start, n := i, len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		smallest := l
		if r := l + 1; r < n && h.less(h.items[r], h.items[l]) {
			smallest = r
		}
		if !h.less(h.items[smallest], h.items[i]) {
			break
		}
		h.swap(i, smallest)
		i = smallest
	}
	return i > start
}
