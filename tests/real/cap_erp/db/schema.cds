// Sales orders with their items (a composition: written as one unit, deep insert and deep update).
namespace erp;
using { cuid, managed } from '@sap/cds/common';

entity SalesOrders : cuid, managed {
  crmDealId     : String(20);
  customerCrmId : String(20);
  orderDate     : Date;
  currency      : String(3);
  netTotal      : Decimal(12, 2);
  items         : Composition of many SalesOrderItems on items.order = $self;
}

entity SalesOrderItems : cuid {
  order     : Association to SalesOrders;
  crmLineId : String(20);
  sku       : String(40);
  quantity  : Decimal(12, 3);
  unitPrice : Decimal(12, 2);
}

// An order's ETag is its last change: an update sent with an older one (If-Match) is refused (412).
annotate SalesOrders with {
  modifiedAt @odata.etag;
}
