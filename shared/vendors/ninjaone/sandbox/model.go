package sandbox

// The sandbox's records, in NinjaOne's wire shapes (field names and types
// from the vendor's OpenAPI document: ids are int32, timestamps epoch
// seconds as numbers with a fraction).

// Organization is an organization with its locations (OrganizationDetailed).
type Organization struct {
	ID               int            `json:"id"`
	Name             string         `json:"name"`
	Description      string         `json:"description,omitempty"`
	NodeApprovalMode string         `json:"nodeApprovalMode"`
	Tags             []string       `json:"tags"`
	Fields           map[string]any `json:"fields"`
	UserData         map[string]any `json:"userData,omitempty"`
	Locations        []Location     `json:"locations"`
	Policies         []PolicyRef    `json:"policies"`
}

// PolicyRef is a NodeRolePolicyAssignment.
type PolicyRef struct {
	NodeRoleID int `json:"nodeRoleId"`
	PolicyID   int `json:"policyId"`
}

// Location is a location; OrganizationID is only sent by the flat
// /v2/locations list (LocationWithOrganizationRef).
type Location struct {
	ID             int            `json:"id"`
	Name           string         `json:"name"`
	Address        string         `json:"address,omitempty"`
	Description    string         `json:"description,omitempty"`
	Tags           []string       `json:"tags"`
	Fields         map[string]any `json:"fields"`
	OrganizationID int            `json:"-"`
}

// OperatingSystem is a device's os block.
type OperatingSystem struct {
	Manufacturer string  `json:"manufacturer"`
	Name         string  `json:"name"`
	Architecture string  `json:"architecture"`
	LastBootTime float64 `json:"lastBootTime"`
	BuildNumber  string  `json:"buildNumber"`
	ReleaseID    string  `json:"releaseId,omitempty"`
	Locale       string  `json:"locale,omitempty"`
	Language     string  `json:"language,omitempty"`
	NeedsReboot  bool    `json:"needsReboot"`
}

// ComputerSystem is a device's system block.
type ComputerSystem struct {
	Name                string `json:"name"`
	Manufacturer        string `json:"manufacturer"`
	Model               string `json:"model"`
	BIOSSerialNumber    string `json:"biosSerialNumber"`
	SerialNumber        string `json:"serialNumber"`
	Domain              string `json:"domain,omitempty"`
	DomainRole          string `json:"domainRole,omitempty"`
	NumberOfProcessors  int    `json:"numberOfProcessors"`
	TotalPhysicalMemory int64  `json:"totalPhysicalMemory"`
	VirtualMachine      bool   `json:"virtualMachine"`
	ChassisType         string `json:"chassisType,omitempty"`
}

// Memory is a device's memory block.
type Memory struct {
	Capacity int64 `json:"capacity"`
}

// Volume is a storage volume.
type Volume struct {
	Name         string `json:"name"`
	DriveLetter  string `json:"driveLetter,omitempty"`
	Label        string `json:"label,omitempty"`
	DeviceType   string `json:"deviceType"`
	FileSystem   string `json:"fileSystem"`
	AutoMount    bool   `json:"autoMount"`
	Compressed   bool   `json:"compressed"`
	Capacity     int64  `json:"capacity"`
	FreeSpace    int64  `json:"freeSpace"`
	SerialNumber string `json:"serialNumber,omitempty"`
}

// Device is a managed device as /v2/device/{id} and /v2/devices-detailed
// return it. Volumes and the last logged-on user are served by their own
// endpoints, not inside the device.
type Device struct {
	ID             int              `json:"id"`
	UID            string           `json:"uid"`
	OrganizationID int              `json:"organizationId"`
	LocationID     int              `json:"locationId"`
	NodeClass      string           `json:"nodeClass"`
	NodeRoleID     int              `json:"nodeRoleId"`
	RolePolicyID   int              `json:"rolePolicyId"`
	ApprovalStatus string           `json:"approvalStatus"`
	Offline        bool             `json:"offline"`
	DisplayName    string           `json:"displayName"`
	SystemName     string           `json:"systemName"`
	DNSName        string           `json:"dnsName"`
	NetbiosName    string           `json:"netbiosName,omitempty"`
	Created        float64          `json:"created"`
	LastContact    float64          `json:"lastContact"`
	LastUpdate     float64          `json:"lastUpdate"`
	Tags           []string         `json:"tags"`
	Fields         map[string]any   `json:"fields"`
	IPAddresses    []string         `json:"ipAddresses"`
	MACAddresses   []string         `json:"macAddresses"`
	PublicIP       string           `json:"publicIP"`
	OS             *OperatingSystem `json:"os,omitempty"`
	System         *ComputerSystem  `json:"system,omitempty"`
	Memory         *Memory          `json:"memory,omitempty"`
	DeviceType     string           `json:"deviceType"`

	Volumes        []Volume `json:"-"`
	LastLoggedUser string   `json:"-"`
	LastLogonTime  float64  `json:"-"`
}

// LoggedOnUser is the last-logged-on-user answer.
type LoggedOnUser struct {
	UserName  string  `json:"userName,omitempty"`
	LogonTime float64 `json:"logonTime,omitempty"`
}

// DeviceRef is the device embedded in alerts and webhook activities
// (NodeWithDetailedReferences), with expanded organization and location.
type DeviceRef struct {
	ID             int     `json:"id"`
	UID            string  `json:"uid"`
	OrganizationID int     `json:"organizationId"`
	LocationID     int     `json:"locationId"`
	NodeClass      string  `json:"nodeClass"`
	Offline        bool    `json:"offline"`
	DisplayName    string  `json:"displayName"`
	SystemName     string  `json:"systemName"`
	DNSName        string  `json:"dnsName"`
	LastContact    float64 `json:"lastContact"`
	References     struct {
		Organization RefOrganization `json:"organization"`
		Location     RefLocation     `json:"location"`
	} `json:"references"`
}

// RefOrganization is an expanded organization reference.
type RefOrganization struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// RefLocation is an expanded location reference.
type RefLocation struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// Alert is an active alert (triggered condition).
type Alert struct {
	UID             string         `json:"uid"`
	DeviceID        int            `json:"deviceId"`
	Message         string         `json:"message"`
	CreateTime      float64        `json:"createTime"`
	UpdateTime      float64        `json:"updateTime"`
	SourceType      string         `json:"sourceType"`
	SourceConfigUID string         `json:"sourceConfigUid"`
	SourceName      string         `json:"sourceName"`
	Subject         string         `json:"subject"`
	Data            map[string]any `json:"data"`
	Device          DeviceRef      `json:"device"`
}

// Activity is the activity object NinjaOne posts to webhooks.
type Activity struct {
	ID              int64          `json:"id"`
	ActivityTime    float64        `json:"activityTime"`
	DeviceID        int            `json:"deviceId"`
	Severity        string         `json:"severity"`
	Priority        string         `json:"priority"`
	SeriesUID       string         `json:"seriesUid"`
	ActivityType    string         `json:"activityType"`
	StatusCode      string         `json:"statusCode"`
	Status          string         `json:"status"`
	ActivityResult  string         `json:"activityResult"`
	SourceConfigUID string         `json:"sourceConfigUid"`
	SourceName      string         `json:"sourceName"`
	Subject         string         `json:"subject"`
	Message         string         `json:"message"`
	Type            string         `json:"type"`
	Data            map[string]any `json:"data"`
	Device          *DeviceRef     `json:"device,omitempty"`
}

// WebhookConfig is the configuration PUT /v2/webhook stores.
type WebhookConfig struct {
	URL             string              `json:"url"`
	Activities      map[string][]string `json:"activities,omitempty"`
	Expand          []string            `json:"expand,omitempty"`
	Headers         []HTTPHeader        `json:"headers,omitempty"`
	OrganizationIDs []int               `json:"organizationIds,omitempty"`
}

// HTTPHeader is a custom webhook header.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// apiError is NinjaOne's error body.
type apiError struct {
	ResultCode   string `json:"resultCode"`
	ErrorMessage string `json:"errorMessage"`
	IncidentID   string `json:"incidentId"`
}
