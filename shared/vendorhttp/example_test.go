package vendorhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
)

// A PSA client following Link-header pages with Basic + clientId auth.
func ExampleClient_Do() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("page") == "2" {
			fmt.Fprint(w, `[{"id":3,"name":"Contoso Ltd"}]`)
			return
		}
		w.Header().Set("Link", fmt.Sprintf(`<http://%s/apis/3.0/company/companies?page=2>; rel="next"`, r.Host))
		fmt.Fprint(w, `[{"id":1,"name":"Acme, Inc."},{"id":2,"name":"Northwind Traders"}]`)
	}))
	defer srv.Close()

	c, err := vendorhttp.New(vendorhttp.Options{
		Name:    "ConnectWise",
		BaseURL: srv.URL + "/apis/3.0",
		Auth:    vendorhttp.BasicWithClientID{Username: "acme+public", Password: "private", ClientID: "client-guid"},
	})
	if err != nil {
		panic(err)
	}
	type company struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	path := "/company/companies"
	for path != "" {
		var page []company
		resp, err := c.Do(context.Background(), vendorhttp.Request{Path: path}, &page)
		if err != nil {
			fmt.Println(apperr.KindOf(err), err)
			return
		}
		for _, co := range page {
			fmt.Println(co.ID, co.Name)
		}
		path = vendorhttp.NextLink(resp.Header)
	}
	fmt.Println("requests:", c.Requests())
	// Output:
	// 1 Acme, Inc.
	// 2 Northwind Traders
	// 3 Contoso Ltd
	// requests: 2
}
