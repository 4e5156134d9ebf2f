/** A property definition as GET /crm/v3/properties/{objectType} gives it (the fields the fake uses). */
export interface FakeProperty {
  readonly name: string
  readonly label: string
  readonly type: "string" | "number" | "enumeration" | "datetime" | "date" | "bool"
  readonly fieldType: string
  readonly options?: ReadonlyArray<{ readonly label: string; readonly value: string }> | undefined
  readonly hasUniqueValue?: boolean | undefined
  /** False for the custom properties a portal's admin creates. */
  readonly hubspotDefined?: boolean | undefined
  /**
   * The options live elsewhere (a deal's stage and pipeline: the pipelines' settings): the Properties API lists none
   * and says `externalOptions`, and HubSpot still refuses a value that is no option.
   */
  readonly externalOptions?: boolean | undefined
}

const text = (name: string, label: string): FakeProperty => ({ name, label, type: "string", fieldType: "text" })
const number = (name: string, label: string): FakeProperty => ({ name, label, type: "number", fieldType: "number" })
const datetime = (name: string, label: string): FakeProperty => ({ name, label, type: "datetime", fieldType: "date" })
const enumeration = (
  name: string,
  label: string,
  options: ReadonlyArray<readonly [value: string, label: string]>,
  fieldType = "select",
  externalOptions = false
): FakeProperty => ({
  name,
  label,
  type: "enumeration",
  fieldType,
  options: options.map(([value, optionLabel]) => ({ label: optionLabel, value })),
  ...(externalOptions ? { externalOptions } : {})
})
const custom = (property: FakeProperty, unique = false): FakeProperty => ({
  ...property,
  hubspotDefined: false,
  hasUniqueValue: unique
})
const same = (values: ReadonlyArray<string>) => values.map((v) => [v, v] as const)

/**
 * A SUBSET of HubSpot's default options of the company `industry` property (value, label), each as HubSpot ships it;
 * the full list has about 150. Enough to tell a label ("Computer Software"), a value and free text ("Software") apart.
 */
export const companyIndustryOptions: ReadonlyArray<readonly [string, string]> = [
  ["ACCOUNTING", "Accounting"],
  ["AIRLINES_AVIATION", "Airlines/Aviation"],
  ["AUTOMOTIVE", "Automotive"],
  ["BANKING", "Banking"],
  ["BIOTECHNOLOGY", "Biotechnology"],
  ["COMPUTER_GAMES", "Computer Games"],
  ["COMPUTER_HARDWARE", "Computer Hardware"],
  ["COMPUTER_NETWORK_SECURITY", "Computer & Network Security"],
  ["COMPUTER_NETWORKING", "Computer Networking"],
  ["COMPUTER_SOFTWARE", "Computer Software"],
  ["CONSTRUCTION", "Construction"],
  ["CONSUMER_GOODS", "Consumer Goods"],
  ["EDUCATION_MANAGEMENT", "Education Management"],
  ["FINANCIAL_SERVICES", "Financial Services"],
  ["FOOD_BEVERAGES", "Food & Beverages"],
  ["HOSPITAL_HEALTH_CARE", "Hospital & Health Care"],
  ["INFORMATION_SERVICES", "Information Services"],
  ["INFORMATION_TECHNOLOGY_AND_SERVICES", "Information Technology and Services"],
  ["INSURANCE", "Insurance"],
  ["INTERNET", "Internet"],
  ["MANAGEMENT_CONSULTING", "Management Consulting"],
  ["MARKETING_AND_ADVERTISING", "Marketing and Advertising"],
  ["PHARMACEUTICALS", "Pharmaceuticals"],
  ["REAL_ESTATE", "Real Estate"],
  ["RETAIL", "Retail"],
  ["STAFFING_AND_RECRUITING", "Staffing and Recruiting"],
  ["TELECOMMUNICATIONS", "Telecommunications"],
  ["VENTURE_CAPITAL_PRIVATE_EQUITY", "Venture Capital & Private Equity"]
]

const actionKey = custom(text("revenueflow_action_key", "RevenueFlow action key"), true)

/**
 * A portal's properties, by object type: HubSpot's defaults for every property the executor writes (and a few
 * neighbours), with their real types, plus the revenueflow_* properties the README asks an admin to create.
 */
export const defaultPropertyDefinitions: Readonly<Record<string, ReadonlyArray<FakeProperty>>> = {
  contacts: [
    text("email", "Email"),
    text("firstname", "First Name"),
    text("lastname", "Last Name"),
    text("company", "Company Name"),
    text("jobtitle", "Job Title"),
    { ...text("phone", "Phone Number"), fieldType: "phonenumber" },
    text("website", "Website URL"),
    text("city", "City"),
    text("country", "Country/Region"),
    // on contacts these two are free text; companies' are an enumeration and a number
    text("industry", "Industry"),
    text("annualrevenue", "Annual Revenue"),
    // contacts have no numberofemployees: theirs is a range
    enumeration(
      "numemployees",
      "Number of Employees",
      same(["1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"])
    ),
    enumeration(
      "hs_lead_status",
      "Lead Status",
      [
        ["NEW", "New"],
        ["OPEN", "Open"],
        ["IN_PROGRESS", "In Progress"],
        ["OPEN_DEAL", "Open Deal"],
        ["UNQUALIFIED", "Unqualified"],
        ["ATTEMPTED_TO_CONTACT", "Attempted to Contact"],
        ["CONNECTED", "Connected"],
        ["BAD_TIMING", "Bad Timing"]
      ],
      "radio"
    ),
    enumeration(
      "lifecyclestage",
      "Lifecycle Stage",
      [
        ["subscriber", "Subscriber"],
        ["lead", "Lead"],
        ["marketingqualifiedlead", "Marketing Qualified Lead"],
        ["salesqualifiedlead", "Sales Qualified Lead"],
        ["opportunity", "Opportunity"],
        ["customer", "Customer"],
        ["evangelist", "Evangelist"],
        ["other", "Other"]
      ],
      "radio"
    ),
    custom(text("revenueflow_lead_key", "RevenueFlow lead key")),
    custom(number("revenueflow_score", "RevenueFlow score")),
    custom(text("revenueflow_intent", "RevenueFlow intent")),
    custom(text("revenueflow_decision", "RevenueFlow decision"))
  ],
  companies: [
    text("name", "Company name"),
    text("domain", "Company Domain Name"),
    text("website", "Website URL"),
    { ...text("phone", "Phone Number"), fieldType: "phonenumber" },
    text("city", "City"),
    text("country", "Country/Region"),
    { ...text("description", "Description"), fieldType: "textarea" },
    enumeration("industry", "Industry", companyIndustryOptions),
    number("numberofemployees", "Number of Employees"),
    number("annualrevenue", "Annual Revenue"),
    custom(text("revenueflow_company_key", "RevenueFlow company key"), true)
  ],
  deals: [
    text("dealname", "Deal Name"),
    enumeration(
      "dealstage",
      "Deal Stage",
      [
        ["appointmentscheduled", "Appointment Scheduled"],
        ["qualifiedtobuy", "Qualified To Buy"],
        ["presentationscheduled", "Presentation Scheduled"],
        ["decisionmakerboughtin", "Decision Maker Bought-In"],
        ["contractsent", "Contract Sent"],
        ["closedwon", "Closed Won"],
        ["closedlost", "Closed Lost"]
      ],
      "radio",
      true
    ),
    enumeration("pipeline", "Pipeline", [["default", "Sales Pipeline"]], "select", true),
    datetime("closedate", "Close Date"),
    number("amount", "Amount"),
    actionKey
  ],
  tasks: [
    datetime("hs_timestamp", "Due date"),
    text("hs_task_subject", "Task Title"),
    { ...text("hs_task_body", "Task notes"), fieldType: "html" },
    enumeration("hs_task_priority", "Priority", [
      ["NONE", "None"],
      ["LOW", "Low"],
      ["MEDIUM", "Medium"],
      ["HIGH", "High"]
    ]),
    enumeration("hs_task_status", "Task Status", [
      ["NOT_STARTED", "Not Started"],
      ["IN_PROGRESS", "In Progress"],
      ["WAITING", "Waiting"],
      ["COMPLETED", "Completed"],
      ["DEFERRED", "Deferred"]
    ]),
    actionKey
  ],
  notes: [
    datetime("hs_timestamp", "Activity date"),
    { ...text("hs_note_body", "Note body"), fieldType: "html" },
    actionKey
  ]
}

/** The definition as the Properties API returns it. */
export const wireProperty = (type: string, property: FakeProperty) => ({
  updatedAt: "2024-01-01T00:00:00.000Z",
  createdAt: "2020-01-01T00:00:00.000Z",
  name: property.name,
  label: property.label,
  type: property.type,
  fieldType: property.fieldType,
  description: "",
  groupName: `${type.replace(/s$/, "")}information`,
  options:
    property.externalOptions === true
      ? []
      : (property.options ?? []).map((o, i) => ({ ...o, displayOrder: i, hidden: false })),
  displayOrder: -1,
  calculated: false,
  externalOptions: property.externalOptions === true,
  hasUniqueValue: property.hasUniqueValue ?? false,
  hidden: false,
  // custom properties carry no hubspotDefined flag
  ...(property.hubspotDefined === false ? {} : { hubspotDefined: true }),
  modificationMetadata: {
    archivable: true,
    readOnlyDefinition: property.hubspotDefined !== false,
    readOnlyValue: false
  },
  formField: true
})
